// argv and envp on their way from execve to the new program's stack.
//
// Design: two flat buffers, each string followed by its NUL, as Linux
// keeps them in the new stack's pages (fs/exec.c, copy_strings into
// bprm->p), not one array per string: execve may carry up to 2 MiB of
// strings (a quarter of the stack limit), which can be a quarter of a
// million one-byte strings, and the kernel must not spend an allocation
// on each.
//
// Invariants:
//   1. `argumentBytes` holds exactly `argumentCount` NUL-terminated
//      strings and nothing else; `environmentBytes` likewise.
//   2. No string contains a NUL except its terminator (append refuses one).

public struct ExecArguments: Sendable {
    public private(set) var argumentBytes: [UInt8] = []
    public private(set) var argumentCount = 0
    public private(set) var environmentBytes: [UInt8] = []
    public private(set) var environmentCount = 0

    public init() {}

    /// The strings of `arguments` and `environment` (without their NULs).
    /// Contract: nil when a string contains a NUL byte.
    public init?(arguments: [[UInt8]], environment: [[UInt8]]) {
        for string in arguments { guard appendArgument(string) else { return nil } }
        for string in environment { guard appendEnvironment(string) else { return nil } }
    }

    /// Appends one argv string; false (nothing appended) if it holds a NUL.
    @discardableResult
    public mutating func appendArgument(_ string: [UInt8]) -> Bool {
        Self.append(string, to: &argumentBytes, counting: &argumentCount)
    }

    /// Appends one envp string; false (nothing appended) if it holds a NUL.
    @discardableResult
    public mutating func appendEnvironment(_ string: [UInt8]) -> Bool {
        Self.append(string, to: &environmentBytes, counting: &environmentCount)
    }

    /// `string` and its NUL onto `bytes`, one more in `count`; false
    /// (nothing appended) if `string` holds a NUL.
    private static func append(_ string: [UInt8], to bytes: inout [UInt8], counting count: inout Int) -> Bool {
        guard !string.contains(0) else { return false }
        bytes += string
        bytes.append(0)
        count += 1
        return true
    }

    /// Takes over strings already NUL-terminated (the execve copy, which
    /// read them from user memory up to each NUL). Contract: `bytes` holds
    /// exactly `count` NUL-terminated strings (invariant 1).
    public mutating func adoptArguments(_ bytes: consuming [UInt8], count: Int) {
        argumentBytes = bytes
        argumentCount = count
    }

    /// The same for envp.
    public mutating func adoptEnvironment(_ bytes: consuming [UInt8], count: Int) {
        environmentBytes = bytes
        environmentCount = count
    }

    /// Bytes of every string with its NUL.
    public var stringBytes: Int { argumentBytes.count + environmentBytes.count }
}
