// User/Runtime/Swift/Syscalls.swift: typed wrappers over the Linux x86-64
// system calls the kernel implements.
//
// Design: every wrapper is a thin call to the nasm gate `user_syscall6` and
// returns the raw result as Int: a value >= 0 on success, -errno on failure,
// exactly as the kernel (or Linux) returned it. Nothing is hidden in errno
// globals, so the tests can compare results against the ABI directly.
// Addresses are passed as Int bit patterns so tests can hand the kernel
// deliberately bad pointers.
import UserRT

/// Linux x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
public enum SyscallNumber {
    public static let read = 0
    public static let write = 1
    public static let open = 2
    public static let close = 3
    public static let mmap = 9
    public static let mprotect = 10
    public static let munmap = 11
    public static let brk = 12
    public static let schedYield = 24
    public static let getpid = 39
    public static let fork = 57
    public static let execve = 59
    public static let exit = 60
    public static let wait4 = 61
    public static let uname = 63
    public static let getppid = 110
    public static let getdents64 = 217
    public static let clockGettime = 228
    public static let exitGroup = 231
    public static let openat = 257
}

/// errno values (include/uapi/asm-generic/errno-base.h).
public enum Errno {
    public static let ENOENT = 2
    public static let EINTR = 4
    public static let E2BIG = 7
    public static let ENOEXEC = 8
    public static let EBADF = 9
    public static let ECHILD = 10
    public static let EAGAIN = 11
    public static let ENOMEM = 12
    public static let EACCES = 13
    public static let EFAULT = 14
    public static let ENOTDIR = 20
    public static let EISDIR = 21
    public static let EINVAL = 22
    public static let EMFILE = 24
    public static let ENAMETOOLONG = 36
    public static let ENOSYS = 38
    public static let EOPNOTSUPP = 95
}

/// mmap/mprotect flags (include/uapi/asm-generic/mman-common.h).
public enum Mman {
    public static let PROT_NONE = 0
    public static let PROT_READ = 1
    public static let PROT_WRITE = 2
    public static let PROT_EXEC = 4
    public static let MAP_SHARED = 0x01
    public static let MAP_PRIVATE = 0x02
    public static let MAP_SHARED_VALIDATE = 0x03
    public static let MAP_FIXED = 0x10
    public static let MAP_ANONYMOUS = 0x20
    public static let MAP_NORESERVE = 0x4000
}

/// Clock ids for clock_gettime.
public enum ClockID {
    public static let realtime = 0
    public static let monotonic = 1
}

/// Performs system call `number` with up to six arguments; returns the raw
/// result (-errno on failure).
@inline(__always)
public func syscall(_ number: Int, _ a1: Int = 0, _ a2: Int = 0, _ a3: Int = 0,
                    _ a4: Int = 0, _ a5: Int = 0, _ a6: Int = 0) -> Int {
    user_syscall6(number, a1, a2, a3, a4, a5, a6)
}

/// The Int bit pattern of a pointer (0 for nil), for syscall arguments.
@inline(__always)
public func address(_ pointer: UnsafeRawPointer?) -> Int {
    Int(bitPattern: pointer)
}

/// read(2): reads up to `count` bytes from `fd` into `buffer`.
public func sys_read(_ fd: Int, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    syscall(SyscallNumber.read, fd, address(buffer), count)
}

/// write(2): writes up to `count` bytes from `buffer` to `fd`. Does not go
/// through the stdout buffer (flush it first when mixing with put).
public func sys_write(_ fd: Int, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    syscall(SyscallNumber.write, fd, address(buffer), count)
}

/// brk(2): sets the program break to `newBreak` (0 queries it); returns the
/// resulting break (the old one when the request was refused).
public func sys_brk(_ newBreak: Int) -> Int {
    syscall(SyscallNumber.brk, newBreak)
}

/// mmap(2): returns the mapping's address or -errno.
public func sys_mmap(_ address: Int, _ length: Int, _ protection: Int, _ flags: Int,
                     _ fd: Int = -1, _ offset: Int = 0) -> Int {
    syscall(SyscallNumber.mmap, address, length, protection, flags, fd, offset)
}

/// munmap(2): returns 0 or -errno.
public func sys_munmap(_ address: Int, _ length: Int) -> Int {
    syscall(SyscallNumber.munmap, address, length)
}

/// mprotect(2): returns 0 or -errno.
public func sys_mprotect(_ address: Int, _ length: Int, _ protection: Int) -> Int {
    syscall(SyscallNumber.mprotect, address, length, protection)
}

/// sched_yield(2): returns 0.
public func sys_sched_yield() -> Int { syscall(SyscallNumber.schedYield) }

/// getpid(2).
public func sys_getpid() -> Int { syscall(SyscallNumber.getpid) }

/// getppid(2).
public func sys_getppid() -> Int { syscall(SyscallNumber.getppid) }

/// fork(2): flushes buffered stdout first (so the child does not print the
/// parent's pending text again); returns the child's pid in the parent, 0 in
/// the child, -errno on failure.
public func sys_fork() -> Int {
    user_out_flush()
    return syscall(SyscallNumber.fork)
}

/// execve(2): `argv` and `envp` are NULL-terminated arrays of C strings.
/// Returns only on failure, with -errno.
public func sys_execve(_ path: UnsafePointer<CChar>,
                       _ argv: UnsafePointer<UnsafePointer<CChar>?>,
                       _ envp: UnsafePointer<UnsafePointer<CChar>?>) -> Int {
    user_out_flush()
    return syscall(SyscallNumber.execve, address(path), address(argv), address(envp))
}

/// exit(2) of the calling thread, after flushing stdout. Never returns.
public func sys_exit(_ status: Int) -> Never {
    user_out_flush()
    while true { _ = syscall(SyscallNumber.exit, status) }
}

/// exit_group(2), after flushing stdout. Never returns.
public func sys_exit_group(_ status: Int) -> Never {
    user_exit(Int32(truncatingIfNeeded: status))
}

/// wait4 options (include/uapi/linux/wait.h).
public enum WaitOption {
    /// Return 0 at once instead of blocking when no child has changed state.
    public static let WNOHANG = 1
}

/// wait4(2) without rusage: waits for `pid` (-1: any child); stores the raw
/// wait status in `status`. Returns the reaped pid or -errno.
public func sys_wait4(_ pid: Int, _ status: inout Int32, _ options: Int = 0) -> Int {
    withUnsafeMutablePointer(to: &status) { p in
        syscall(SyscallNumber.wait4, pid, address(p), options, 0)
    }
}

/// uname(2): fills the 390-byte struct utsname at `buffer` (six fields of
/// 65 bytes). Returns 0 or -errno.
public func sys_uname(_ buffer: UnsafeMutableRawPointer?) -> Int {
    syscall(SyscallNumber.uname, address(buffer))
}

/// clock_gettime(2) into a (seconds, nanoseconds) timespec. Returns 0 or -errno.
public func sys_clock_gettime(_ clock: Int, _ time: inout TimeSpec) -> Int {
    withUnsafeMutablePointer(to: &time) { p in
        syscall(SyscallNumber.clockGettime, clock, address(p))
    }
}

/// struct timespec.
public struct TimeSpec {
    public var seconds: Int = 0
    public var nanoseconds: Int = 0
    public init() {}
    /// The time in nanoseconds (fits Int for ~292 years).
    public var totalNanoseconds: Int { seconds &* 1_000_000_000 &+ nanoseconds }
}

/// Monotonic time in nanoseconds, or -1 when clock_gettime fails.
public func monotonicNanoseconds() -> Int {
    var time = TimeSpec()
    return sys_clock_gettime(ClockID.monotonic, &time) == 0 ? time.totalNanoseconds : -1
}

/// A decoded wait4 status (the Linux encoding, see wait(2) W* macros).
public struct WaitStatus {
    public let raw: Int32
    public init(_ raw: Int32) { self.raw = raw }
    /// The signal number that terminated the process, or 0.
    public var terminatingSignal: Int32 {
        let signal = raw & 0x7f
        return (signal != 0 && signal != 0x7f) ? signal : 0
    }
    /// True when the process called exit.
    public var exited: Bool { raw & 0x7f == 0 }
    /// The exit code when `exited`.
    public var exitCode: Int32 { (raw >> 8) & 0xff }
}

/// Signal numbers the tests expect (asm-generic/signal.h).
public enum Signal {
    public static let SIGILL: Int32 = 4
    public static let SIGTRAP: Int32 = 5
    public static let SIGBUS: Int32 = 7
    public static let SIGFPE: Int32 = 8
    public static let SIGKILL: Int32 = 9
    public static let SIGSEGV: Int32 = 11

    /// The name ("SIGSEGV") of the signals a fault or kill can end a process
    /// with (SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGKILL, SIGSEGV); nil for others.
    public static func name(of signal: Int32) -> StaticString? {
        switch signal {
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGSEGV: return "SIGSEGV"
        default: return nil
        }
    }
}
