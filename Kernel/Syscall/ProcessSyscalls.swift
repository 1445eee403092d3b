// fork, execve, exit, wait4 (Linux kernel/fork.c, fs/exec.c, kernel/exit.c).
enum ProcessSyscalls {
    /// Most strings argv, and separately envp, may hold (Linux's
    /// MAX_ARG_STRINGS is far larger; this bounds the kernel's copy).
    static let maximumArgumentCount = 256
    /// Bytes argv and envp strings may take together, NULs included: what
    /// the initial stack can hold (Linux: a quarter of the stack rlimit).
    static let argumentBytesLimit = Int(UserSpace.stackSize) / 2

    static func fork(_ task: Task) -> SyscallOutcome {
        switch Lifecycle.fork(task) {
        case .success(let pid): return .integer(pid)
        case .failure(let errno): return .error(errno)
        }
    }

    /// execve(path, argv, envp): on success the old program is gone and
    /// the new one starts; on failure the caller gets the errno.
    static func execve(_ task: Task, path: UInt64, arguments: UInt64, environment: UInt64) -> SyscallOutcome {
        let pathBytes: [UInt8], argv: [[UInt8]], envp: [[UInt8]]
        do throws(UserMemory.StringError) {
            pathBytes = try UserMemory.string(at: path, maximumLength: UserMemory.maximumPathLength)
        } catch {
            return .error(error == .fault ? .EFAULT : .ENAMETOOLONG)
        }
        // An empty path is -ENOENT (getname; only AT_EMPTY_PATH, an
        // execveat flag, accepts it), before it can name the root.
        if pathBytes.isEmpty { return .error(.ENOENT) }
        // Linux opens the file before it copies argv and envp: a missing
        // program is -ENOENT even with bad argument pointers.
        guard let fileSystem = ProcessTable.fileSystem else { return .error(.ENOENT) }
        if let errno = FileSyscalls.fileComponentError(pathBytes, fileSystem) { return .error(errno) }
        guard let node = fileSystem.lookup(pathBytes) else { return .error(.ENOENT) }
        if case .file = node, pathBytes.last == UInt8(ascii: "/") { return .error(.ENOTDIR) }
        var budget = argumentBytesLimit
        do throws(UserMemory.StringError) {
            argv = try UserMemory.stringArray(at: arguments, maximumCount: maximumArgumentCount, budget: &budget)
            envp = try UserMemory.stringArray(at: environment, maximumCount: maximumArgumentCount, budget: &budget)
        } catch {
            return .error(error == .fault ? .EFAULT : .E2BIG)
        }
        // An empty argv (NULL or {NULL}) becomes {""}, argc 1, so that no
        // program starts with argc 0 and reads envp as argv (Linux >= 5.18,
        // do_execveat_common).
        var arguments = argv
        if arguments.isEmpty { arguments = [[]] }
        if let errno = Exec.replaceProgram(of: task, path: pathBytes, arguments: arguments, environment: envp) {
            return .error(errno)
        }
        return .replaced
    }

    /// exit and exit_group (one thread per process, so the same).
    static func exit(_ task: Task, code: UInt64) -> SyscallOutcome {
        Lifecycle.terminate(task, waitStatus: WaitStatus.exited(code: UInt8(truncatingIfNeeded: code)))
        return .exited
    }

    /// sizeof(struct rusage) on x86-64.
    static let resourceUsageSize = 144

    /// wait4(pid, status, options, rusage): pid > 0 waits for that child,
    /// anything else for any child. Blocks unless WNOHANG; -ECHILD without
    /// matching children. There is no resource accounting yet, so a rusage
    /// buffer is filled with zeros.
    ///
    /// Contract, as Linux's kernel_wait4: pid INT_MIN is -ESRCH; options
    /// outside WNOHANG, WUNTRACED, WCONTINUED, __WNOTHREAD, __WCLONE and
    /// __WALL are -EINVAL; __WCLONE without __WALL matches only clone
    /// children, and every child here is a fork child, so -ECHILD. A child
    /// is reaped before its status and rusage are stored: a bad pointer
    /// gives -EFAULT with the child gone, as on Linux.
    /// Known deviation: there are no process groups; every process is in
    /// one group, so pid 0 and pid < -1 also mean any child.
    static func wait4(_ task: Task, pid: Int64, status: UInt64, options: UInt64,
                      resourceUsage: UInt64) -> SyscallOutcome {
        if pid == Int64(Int32.min) { return .error(.ESRCH) }
        let known = ProcessABI.waitNoHang | ProcessABI.waitUntraced | ProcessABI.waitContinued
            | ProcessABI.waitNoThread | ProcessABI.waitCloneChildren | ProcessABI.waitAllChildren
        guard options & ~known == 0 else { return .error(.EINVAL) }
        let onlyCloneChildren = options & ProcessABI.waitCloneChildren != 0 && options & ProcessABI.waitAllChildren == 0
        var hasChild = false
        for child in Scheduler.tasks where !onlyCloneChildren && child.parentPid == task.pid
            && (pid <= 0 || child.pid == Int(pid)) {
            hasChild = true
            guard child.state == .zombie else { continue }
            let reaped = child.pid, waitStatus = child.waitStatus
            Lifecycle.reap(child)
            if status != 0 && !UserMemory.store(waitStatus, at: status) { return .error(.EFAULT) }
            if resourceUsage != 0 {
                let zeros = [UInt8](repeating: 0, count: resourceUsageSize)
                let copied = zeros.withUnsafeBytes { UserMemory.copyOut($0.baseAddress!, to: resourceUsage, count: resourceUsageSize) }
                guard copied else { return .error(.EFAULT) }
            }
            return .integer(reaped)
        }
        guard hasChild else { return .error(.ECHILD) }
        if options & ProcessABI.waitNoHang != 0 { return .value(0) }
        return .block(.childExit)
    }
}
