// getrlimit(97), setrlimit(160), prlimit64(302) (Linux kernel/sys.c). The
// limits live in the task (Task.limits, Kernel/Lib/ResourceLimits.swift:
// the rules of do_prlimit); RLIMIT_AS and RLIMIT_DATA are mirrored into
// its address space, which enforces them (UserAddressSpace+Limits.swift).
//
// Privilege: there are no users here; every task has what root has on
// Linux (uid 0, CAP_SYS_RESOURCE), so raising a hard limit is allowed and
// prlimit64 may read and change any process's limits
// (check_prlimit_permission). Native runs of the tests run as root too.
//
// Argument order, as Linux checks them:
// - getrlimit: the resource (EINVAL), then the copy out (EFAULT);
// - setrlimit: the copy in (EFAULT), then the resource and values;
// - prlimit64: the copy in of the new limit (EFAULT), the pid (ESRCH),
//   do_prlimit (EINVAL, EPERM), then the copy out of the old limit
//   (EFAULT, with the new limit already in force).
enum LimitSyscalls {
    /// struct rlimit and struct rlimit64 on x86-64: rlim_cur, rlim_max.
    typealias UserLimit = (UInt64, UInt64)

    /// Whether tasks may raise hard limits (CAP_SYS_RESOURCE): always, see above.
    static let privileged = true

    static func getrlimit(_ task: Task, resource: UInt64, buffer: UInt64) -> SyscallOutcome {
        let limit: ResourceLimit
        do throws(ResourceLimitError) {
            limit = try task.limits.limit(resource)
        } catch {
            return .error(errno(for: error))
        }
        return store(limit, at: buffer) ? .value(0) : .error(.EFAULT)
    }

    static func setrlimit(_ task: Task, resource: UInt64, buffer: UInt64) -> SyscallOutcome {
        guard let new = load(from: buffer) else { return .error(.EFAULT) }
        do throws(ResourceLimitError) {
            _ = try set(task, resource, new)
            return .value(0)
        } catch {
            return .error(errno(for: error))
        }
    }

    /// prlimit64(pid, resource, new, old): pid 0 is the caller; either
    /// pointer may be NULL. A zombie still has its limits (Linux finds it
    /// until it is reaped).
    static func prlimit64(_ task: Task, pid: Int64, resource: UInt64, newLimit: UInt64,
                          oldLimit: UInt64) -> SyscallOutcome {
        var new: ResourceLimit? = nil
        if newLimit != 0 {
            guard let loaded = load(from: newLimit) else { return .error(.EFAULT) }
            new = loaded
        }
        guard let target = pid == 0 ? task : (pid > 0 ? ProcessTable.find(Int(pid)) : nil) else {
            return .error(.ESRCH)
        }
        let old: ResourceLimit
        do throws(ResourceLimitError) {
            if let new {
                old = try set(target, resource, new)
            } else {
                old = try target.limits.limit(resource)
            }
        } catch {
            return .error(errno(for: error))
        }
        if oldLimit != 0 && !store(old, at: oldLimit) { return .error(.EFAULT) }
        return .value(0)
    }

    /// Sets `task`'s limit and mirrors the memory limits into its address
    /// space (none for a zombie). Returns the old limit.
    private static func set(_ task: Task, _ resource: UInt64,
                            _ new: ResourceLimit) throws(ResourceLimitError) -> ResourceLimit {
        let old = try task.limits.set(resource, to: new, privileged: privileged)
        if task.space != nil { task.withSpace { $0.limits = MemoryLimits(task.limits) } }
        return old
    }

    private static func load(from address: UInt64) -> ResourceLimit? {
        guard let value = UserMemory.load(UserLimit.self, from: address) else { return nil }
        return ResourceLimit(current: value.0, maximum: value.1)
    }

    private static func store(_ limit: ResourceLimit, at address: UInt64) -> Bool {
        UserMemory.store((limit.current, limit.maximum) as UserLimit, at: address)
    }

    private static func errno(for error: ResourceLimitError) -> Errno {
        switch error {
        case .invalidArgument: return .EINVAL
        case .notPermitted: return .EPERM
        }
    }
}
