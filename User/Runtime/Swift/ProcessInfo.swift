// User/Runtime/Swift/ProcessInfo.swift: argc, argv, envp and the auxiliary
// vector of the running process.
//
// Design: _start stores the entry RSP in `user_initial_stack`; everything is
// read from that image on demand (argc, argv[], NULL, envp[], NULL, auxv
// pairs ending in AT_NULL), so no heap and no copying are needed.
import UserRT

/// Auxiliary vector keys (include/uapi/linux/auxvec.h).
public enum AuxKey {
    public static let AT_NULL: UInt64 = 0
    public static let AT_PHDR: UInt64 = 3
    public static let AT_PHENT: UInt64 = 4
    public static let AT_PHNUM: UInt64 = 5
    public static let AT_PAGESZ: UInt64 = 6
    public static let AT_ENTRY: UInt64 = 9
    public static let AT_RANDOM: UInt64 = 25
}

/// The process's initial stack, decoded.
public enum ProcessInfo {
    /// The initial stack as 64-bit words.
    static var words: UnsafePointer<UInt64> {
        UnsafePointer(bitPattern: UInt(user_initial_stack))!
    }

    /// RSP at process entry (the address of argc).
    public static var initialStackPointer: UInt64 { user_initial_stack }

    /// Number of arguments.
    public static var argc: Int { Int(words[0]) }

    /// Address of argv[0] (argv[argc] is NULL).
    public static var argvBase: UnsafePointer<UnsafePointer<CChar>?> {
        UnsafeRawPointer(words + 1).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
    }

    /// argv[index], or nil when out of range.
    public static func argument(_ index: Int) -> UnsafePointer<CChar>? {
        guard index >= 0, index < argc else { return nil }
        return argvBase[index]
    }

    /// Address of envp[0]; the list ends with NULL.
    public static var envpBase: UnsafePointer<UnsafePointer<CChar>?> {
        UnsafeRawPointer(words + 1 + argc + 1).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
    }

    /// Number of environment strings.
    public static var environmentCount: Int {
        var count = 0
        while envpBase[count] != nil { count += 1 }
        return count
    }

    /// The environment string that starts with `prefix` (e.g. "PATH="), or nil.
    public static func environment(withPrefix prefix: StaticString) -> UnsafePointer<CChar>? {
        var index = 0
        while let entry = envpBase[index] {
            if cStringHasPrefix(entry, prefix) { return entry }
            index += 1
        }
        return nil
    }

    /// Address of the first auxv pair (just after envp's NULL).
    public static var auxvBase: UnsafePointer<UInt64> {
        UnsafeRawPointer(envpBase + environmentCount + 1).assumingMemoryBound(to: UInt64.self)
    }

    /// The value for auxv key `key`, or nil when absent.
    public static func auxv(_ key: UInt64) -> UInt64? {
        var pair = auxvBase
        while pair[0] != AuxKey.AT_NULL {
            if pair[0] == key { return pair[1] }
            pair += 2
        }
        return nil
    }

    /// Number of auxv pairs before AT_NULL.
    public static var auxvCount: Int {
        var count = 0
        while auxvBase[2 * count] != AuxKey.AT_NULL { count += 1 }
        return count
    }
}
