// A process's resource limits (Linux signal->rlim, struct rlimit64) and
// the rules for reading and changing them (kernel/sys.c do_prlimit),
// shared by getrlimit(97), setrlimit(160) and prlimit64(302)
// (Kernel/Syscall/LimitSyscalls.swift).
//
// Invariants:
// 1. There are exactly `count` (RLIM_NLIMITS, 16) limits, indexed by the
//    Linux resource numbers (include/uapi/asm-generic/resource.h).
// 2. Every limit has current <= maximum (do_prlimit refuses anything else).
//
// Defaults: Linux's INIT_RLIMITS (include/asm-generic/resource.h) as
// init_task has them, with RLIMIT_NPROC and RLIMIT_SIGPENDING set the way
// fork_init sets them (max_threads / 2, max_threads from the RAM size).
// Every process inherits them through fork and keeps them across execve.
//
// What is enforced: RLIMIT_AS and RLIMIT_DATA, by the address space
// (Kernel/VM/UserAddressSpace+Limits.swift). The others are stored and
// returned only (RLIMIT_STACK included: the stack is a fixed region that
// never grows, and argv+envp are capped far below Linux's floor of
// RLIMIT_STACK / 4 anyway; RLIMIT_NOFILE: the descriptor table has its own,
// smaller, fixed size).

/// One limit (struct rlimit64). `ResourceLimits.infinity` is RLIM_INFINITY.
public struct ResourceLimit: Equatable, Sendable {
    /// The soft limit (rlim_cur): what is enforced.
    public var current: UInt64
    /// The hard limit (rlim_max): the ceiling for the soft one.
    public var maximum: UInt64

    public init(current: UInt64, maximum: UInt64) {
        self.current = current
        self.maximum = maximum
    }

    /// RLIM_INFINITY for both.
    public static var unlimited: ResourceLimit { ResourceLimit(current: ResourceLimits.infinity,
                                                               maximum: ResourceLimits.infinity) }
}

/// Why a limit could not be read or changed, with Linux's errno.
public enum ResourceLimitError: Error, Equatable, Sendable {
    /// An unknown resource, or a soft limit above the hard one. EINVAL.
    case invalidArgument
    /// Raising a hard limit without privilege, or RLIMIT_NOFILE's above
    /// fs.nr_open. EPERM.
    case notPermitted
}

public struct ResourceLimits: Equatable, Sendable {
    /// RLIM_NLIMITS.
    public static let count = 16
    /// RLIM_INFINITY (~0UL, the same as RLIM64_INFINITY on 64-bit).
    public static let infinity = UInt64.max

    /// The resource numbers (include/uapi/asm-generic/resource.h).
    public enum Resource: Int, CaseIterable, Sendable {
        case cpu = 0, fileSize, data, stack, core, residentSet, processes, openFiles
        case lockedMemory, addressSpace, locks, pendingSignals, messageQueue, nice, realtimePriority
        case realtimeTimeout
    }

    /// Linux _STK_LIM: the default soft stack limit, 8 MiB.
    public static let defaultStackLimit: UInt64 = 8 << 20
    /// Linux INR_OPEN_CUR and INR_OPEN_MAX (include/uapi/linux/fs.h).
    public static let defaultOpenFiles: UInt64 = 1024
    public static let defaultOpenFilesMaximum: UInt64 = 4096
    /// Linux sysctl fs.nr_open's default (1024 * 1024): no RLIMIT_NOFILE
    /// hard limit may exceed it, not even for root.
    public static let openFilesCeiling: UInt64 = 1 << 20
    /// Linux MLOCK_LIMIT (8 MiB since Linux 5.16).
    public static let defaultLockedMemory: UInt64 = 8 << 20
    /// Linux MQ_BYTES_MAX: 819200 bytes of POSIX message queues.
    public static let defaultMessageQueueBytes: UInt64 = 819_200
    /// Linux THREAD_SIZE on x86-64 (16 KiB kernel stacks; this kernel's
    /// are the same size): fork_init's max_threads is RAM / (8 * THREAD_SIZE).
    public static let threadSize: UInt64 = 16 << 10
    /// Linux MIN_THREADS: max_threads never goes below it.
    public static let minimumThreads: UInt64 = 20

    /// The limits, indexed by resource number (invariant 1).
    private var values: [ResourceLimit]

    /// Linux's boot-time limits (INIT_RLIMITS) on a machine with
    /// `memoryBytes` of RAM: RLIMIT_NPROC and RLIMIT_SIGPENDING are
    /// max_threads / 2 (fork_init, set_max_threads).
    public init(memoryBytes: UInt64) {
        values = [ResourceLimit](repeating: .unlimited, count: Self.count)
        let maximumThreads = Swift.max(memoryBytes / (8 * Self.threadSize), Self.minimumThreads)
        let tasks = ResourceLimit(current: maximumThreads / 2, maximum: maximumThreads / 2)
        self[.stack] = ResourceLimit(current: Self.defaultStackLimit, maximum: Self.infinity)
        self[.core] = ResourceLimit(current: 0, maximum: Self.infinity)
        self[.processes] = tasks
        self[.openFiles] = ResourceLimit(current: Self.defaultOpenFiles, maximum: Self.defaultOpenFilesMaximum)
        self[.lockedMemory] = ResourceLimit(current: Self.defaultLockedMemory, maximum: Self.defaultLockedMemory)
        self[.pendingSignals] = tasks
        self[.messageQueue] = ResourceLimit(current: Self.defaultMessageQueueBytes,
                                            maximum: Self.defaultMessageQueueBytes)
        self[.nice] = ResourceLimit(current: 0, maximum: 0)
        self[.realtimePriority] = ResourceLimit(current: 0, maximum: 0)
    }

    public subscript(_ resource: Resource) -> ResourceLimit {
        get { values[resource.rawValue] }
        set { values[resource.rawValue] = newValue }
    }

    /// The limit of resource number `resource` (an `unsigned int` from
    /// user space). Throws `.invalidArgument` if it is not below RLIM_NLIMITS.
    public func limit(_ resource: UInt64) throws(ResourceLimitError) -> ResourceLimit {
        guard resource < UInt64(Self.count), let known = Resource(rawValue: Int(resource)) else {
            throw .invalidArgument
        }
        return self[known]
    }

    /// Sets resource number `resource` to `new` and returns the old limit,
    /// as Linux's do_prlimit checks it, in its order: the resource number
    /// (EINVAL), soft above hard (EINVAL), RLIMIT_NOFILE's hard limit above
    /// fs.nr_open (EPERM), then raising the hard limit without
    /// `privileged` (CAP_SYS_RESOURCE) (EPERM). Nothing changes on error.
    public mutating func set(_ resource: UInt64, to new: ResourceLimit,
                             privileged: Bool) throws(ResourceLimitError) -> ResourceLimit {
        let old = try limit(resource)
        let known = Resource(rawValue: Int(resource))!
        guard new.current <= new.maximum else { throw .invalidArgument }
        if known == .openFiles && new.maximum > Self.openFilesCeiling { throw .notPermitted }
        if new.maximum > old.maximum && !privileged { throw .notPermitted }
        self[known] = new
        return old
    }
}
