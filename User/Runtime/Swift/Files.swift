// User/Runtime/Swift/Files.swift: opening files and directories and
// listing directories (open, openat, close, getdents64).
//
// Design: like Syscalls.swift, every wrapper returns the raw result (>= 0 on
// success, -errno on failure). Directory listing decodes Linux's
// `struct linux_dirent64` records in a caller-supplied buffer, so no heap is
// needed and the same code reads the kernel's boot archive and a Linux
// directory.
import UserRT

/// open/openat flags (include/uapi/asm-generic/fcntl.h).
public enum OpenFlag {
    public static let O_RDONLY = 0
    public static let O_DIRECTORY = 0o200000
    public static let O_CLOEXEC = 0o2000000
}

/// openat's "relative to the current directory" descriptor.
public let AT_FDCWD = -100

/// open(2): opens the NUL-terminated `path` with `flags` (read-only only on
/// our kernel). Returns the new descriptor or -errno.
public func sys_open(_ path: UnsafePointer<CChar>, _ flags: Int) -> Int {
    syscall(SyscallNumber.open, address(path), flags, 0)
}

/// openat(2): opens `path` relative to `directory` (AT_FDCWD only on our
/// kernel). Returns the new descriptor or -errno.
public func sys_openat(_ directory: Int, _ path: UnsafePointer<CChar>, _ flags: Int) -> Int {
    syscall(SyscallNumber.openat, directory, address(path), flags, 0)
}

/// close(2): returns 0 or -errno.
public func sys_close(_ fd: Int) -> Int {
    syscall(SyscallNumber.close, fd)
}

/// getdents64(2): fills `buffer` (`count` bytes) with linux_dirent64 records
/// of directory `fd`. Returns the bytes filled, 0 at the end, or -errno.
public func sys_getdents64(_ fd: Int, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    syscall(SyscallNumber.getdents64, fd, address(buffer), count)
}

/// One decoded `struct linux_dirent64` record. `name` points into the
/// buffer passed to getdents64 and is valid until it is refilled.
public struct DirectoryEntry {
    /// d_type values (the DT_* constants of dirent.h).
    public static let typeUnknown: UInt8 = 0
    public static let typeDirectory: UInt8 = 4
    public static let typeRegular: UInt8 = 8

    public let inode: UInt64
    public let type: UInt8
    public let name: UnsafePointer<CChar>

    /// True for the "." and ".." entries.
    public var isDotOrDotDot: Bool {
        cStringEquals(name, ".") || cStringEquals(name, "..")
    }
}

/// Byte offsets inside `struct linux_dirent64`.
private enum Dirent64Layout {
    static let inode = 0        // u64 d_ino
    static let recordLength = 16 // u16 d_reclen
    static let type = 18        // u8 d_type
    static let name = 19        // char d_name[], NUL-terminated
}

/// Calls `body` for every entry of the open directory `fd` (including "."
/// and ".." when the kernel reports them), reading with getdents64 into
/// `buffer` until the end. Returns 0, or -errno from the first failing
/// getdents64 (entries before the failure have been delivered), or -EINVAL
/// when a record is malformed.
public func forEachDirectoryEntry(_ fd: Int, buffer: UnsafeMutableRawBufferPointer,
                                  _ body: (DirectoryEntry) -> Void) -> Int {
    guard let base = buffer.baseAddress else { return -Errno.EINVAL }
    while true {
        let filled = sys_getdents64(fd, base, buffer.count)
        if filled == -Errno.EINTR { continue }
        if filled <= 0 { return filled }
        var offset = 0
        while offset < filled {
            let record = base + offset
            let length = Int(record.loadUnaligned(fromByteOffset: Dirent64Layout.recordLength, as: UInt16.self))
            guard length > Dirent64Layout.name, offset + length <= filled else { return -Errno.EINVAL }
            let entry = DirectoryEntry(
                inode: record.loadUnaligned(fromByteOffset: Dirent64Layout.inode, as: UInt64.self),
                type: record.load(fromByteOffset: Dirent64Layout.type, as: UInt8.self),
                name: UnsafePointer((record + Dirent64Layout.name).assumingMemoryBound(to: CChar.self)))
            body(entry)
            offset += length
        }
    }
}
