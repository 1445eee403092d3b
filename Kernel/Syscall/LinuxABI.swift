// The part of the Linux x86-64 ABI this kernel speaks: syscall numbers
// (arch/x86/entry/syscalls/syscall_64.tbl), errno values
// (include/uapi/asm-generic/errno-base.h), wait-status encoding, signals
// and mmap flags. A static binary built for Linux that sticks to these
// runs unchanged here.

/// Syscall numbers. Arguments arrive in RDI, RSI, RDX, R10, R8, R9; the
/// number in RAX; the result (or -errno) goes back in RAX.
public enum SyscallNumber: UInt64 {
    case read = 0
    case write = 1
    case open = 2
    case close = 3
    case mmap = 9
    case mprotect = 10
    case munmap = 11
    case brk = 12
    case schedYield = 24
    case mremap = 25
    case getpid = 39
    case fork = 57
    case execve = 59
    case exit = 60
    case wait4 = 61
    case uname = 63
    case getrlimit = 97
    case sysinfo = 99
    case getppid = 110
    case setrlimit = 160
    case getdents64 = 217
    case clockGettime = 228
    case exitGroup = 231
    case openat = 257
    case prlimit64 = 302
}

public enum Errno: Int64, Error {
    case EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, E2BIG = 7, ENOEXEC = 8
    case EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14
    case EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24
    case ENODEV = 19, ENOSPC = 28, ESPIPE = 29, EROFS = 30, ERANGE = 34, ENOSYS = 38, ENAMETOOLONG = 36
    case EOVERFLOW = 75, EOPNOTSUPP = 95

    /// The value a syscall returns in RAX for this error.
    public var syscallReturn: UInt64 { UInt64(bitPattern: -rawValue) }
}

/// Signal numbers, as the wait status reports them.
public enum Signal: UInt32 {
    case SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGKILL = 9, SIGSEGV = 11
}

/// The status wait4 stores (Linux `wait.h` encoding).
public enum WaitStatus {
    /// A normal exit: the code in bits 8..15.
    public static func exited(code: UInt8) -> UInt32 { UInt32(code) << 8 }
    /// Killed by a signal: its number in the low 7 bits.
    public static func killed(by signal: Signal) -> UInt32 { signal.rawValue & 0x7F }
}

/// mmap/mprotect bits (include/uapi/asm-generic/mman-common.h).
public enum MmapABI {
    public static let protRead: UInt64 = 0x1
    public static let protWrite: UInt64 = 0x2
    public static let protExec: UInt64 = 0x4
    public static let mapShared: UInt64 = 0x01
    public static let mapPrivate: UInt64 = 0x02
    public static let mapFixed: UInt64 = 0x10
    public static let mapAnonymous: UInt64 = 0x20
    public static let mapFixedNoReplace: UInt64 = 0x100000
    public static let mapFailed: UInt64 = UInt64.max  // (void *)-1
    /// The map type bits, and MAP_SHARED_VALIDATE (flags checked, for files).
    public static let mapType: UInt64 = 0x0f
    public static let mapSharedValidate: UInt64 = 0x03
    /// Linux LEGACY_MAP_MASK (include/linux/mman.h): what MAP_SHARED_VALIDATE
    /// accepts (MAP_SHARED|PRIVATE|FIXED|ANONYMOUS|DENYWRITE|EXECUTABLE|
    /// UNINITIALIZED|GROWSDOWN|LOCKED|NORESERVE|POPULATE|NONBLOCK|STACK|
    /// HUGETLB|32BIT|ABOVE4G|HUGE_2MB|HUGE_1GB).
    public static let legacyFlags: UInt64 = 0x03 | 0x10 | 0x20 | 0x800 | 0x1000 | 0x400_0000 | 0x100 | 0x2000
        | 0x4000 | 0x8000 | 0x1_0000 | 0x2_0000 | 0x4_0000 | 0x40 | 0x80 | (21 << 26) | (30 << 26)
    /// PROT_SEM: accepted by mprotect, meaningless on x86.
    public static let protSemaphore = 0x8
}

/// wait4 options and clock ids.
public enum ProcessABI {
    public static let waitNoHang: UInt64 = 1
    public static let waitUntraced: UInt64 = 2
    public static let waitContinued: UInt64 = 8
    public static let waitNoThread: UInt64 = 0x2000_0000      // __WNOTHREAD
    public static let waitAllChildren: UInt64 = 0x4000_0000   // __WALL
    public static let waitCloneChildren: UInt64 = 0x8000_0000 // __WCLONE
    public static let clockRealtime: UInt64 = 0
    public static let clockMonotonic: UInt64 = 1
    public static let clockMonotonicRaw: UInt64 = 4
    public static let clockRealtimeCoarse: UInt64 = 5
    public static let clockMonotonicCoarse: UInt64 = 6
    public static let clockBoottime: UInt64 = 7
    /// struct sysinfo (include/uapi/linux/sysinfo.h, x86-64): byte offsets
    /// of the fields filled in, and its size.
    public static let sysinfoSize = 112
    public static let sysinfoUptime = 0
    public static let sysinfoTotalRAM = 32
    public static let sysinfoFreeRAM = 40
    public static let sysinfoProcs = 80
    public static let sysinfoMemUnit = 104
    /// struct utsname: six fields of 65 bytes.
    public static let utsnameFieldLength = 65
    public static let utsnameFieldCount = 6
}

/// open(2) flags and getdents64 record fields (include/uapi/asm-generic/fcntl.h,
/// include/linux/dirent.h).
public enum FileABI {
    public static let accessModeMask: UInt64 = 0o3
    public static let readOnly: UInt64 = 0
    public static let create: UInt64 = 0o100
    public static let exclusive: UInt64 = 0o200
    public static let truncate: UInt64 = 0o1000
    public static let directory: UInt64 = 0o200000
    /// openat's "relative to the working directory".
    public static let atWorkingDirectory: Int64 = -100
    public static let directoryTypeDirectory: UInt8 = 4   // DT_DIR
    public static let directoryTypeRegular: UInt8 = 8     // DT_REG
    /// struct linux_dirent64: ino (8), off (8), reclen (2), type (1), then the name.
    public static let direntNameOffset = 19
    public static let direntAlignment = 8
}
