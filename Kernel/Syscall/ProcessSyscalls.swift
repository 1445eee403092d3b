// fork, execve, exit, wait4 (Linux kernel/fork.c, fs/exec.c, kernel/exit.c).

/// Linux's limits on execve's strings (fs/exec.c, include/uapi/linux/binfmts.h).
enum ExecLimits {
    /// MAX_ARG_STRLEN: the longest argv or envp string, NUL included.
    static let maximumStringLength = 32 * 4096
    /// ARG_MAX: the strings may always take this much, however small the stack limit.
    static let historicalMinimum = 32 * 4096
    /// _STK_LIM, the default RLIMIT_STACK (there is no setrlimit yet).
    static let defaultStackLimit = 8 << 20

    /// Bytes the strings and their pointers may take together
    /// (bprm_stack_limits): a quarter of the stack limit, at most three
    /// quarters of _STK_LIM, at least ARG_MAX. 2 MiB by default.
    static func budget(stackLimit: Int = defaultStackLimit) -> Int {
        max(min(defaultStackLimit / 4 * 3, stackLimit / 4), historicalMinimum)
    }
}

enum ProcessSyscalls {
    static func fork(_ task: Task) -> SyscallOutcome {
        switch Lifecycle.fork(task) {
        case .success(let pid): return .integer(pid)
        case .failure(let errno): return .error(errno)
        }
    }

    /// execve(path, argv, envp): on success the old program is gone and
    /// the new one starts; on failure the caller gets the errno.
    ///
    /// Contract, in the order of Linux's do_execveat_common: the path
    /// (EFAULT, ENAMETOOLONG; empty is ENOENT), the file (ENOENT, ENOTDIR),
    /// then argv's and envp's pointers are counted (EFAULT), and E2BIG
    /// when the pointers alone, (max(argc, 1) + envc) * 8, fill the budget
    /// (ExecLimits.budget, 2 MiB); then the strings are copied, the path's
    /// first, then envp's, then argv's: E2BIG when one is longer than
    /// MAX_ARG_STRLEN with its NUL or when they pass what the pointers
    /// left of the budget, EFAULT when one cannot be read. An empty argv
    /// becomes {""} (Linux >= 5.18), so no program starts with argc 0.
    /// Known deviation: counting stops at the budget (E2BIG), where Linux
    /// reads up to MAX_ARG_STRINGS pointers first and might find a fault.
    static func execve(_ task: Task, path: UInt64, arguments: UInt64, environment: UInt64) -> SyscallOutcome {
        let pathBytes: [UInt8]
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
        switch copyStrings(path: pathBytes, arguments: arguments, environment: environment) {
        case .success(let strings):
            if let errno = Exec.replaceProgram(of: task, path: pathBytes, strings: strings) { return .error(errno) }
            return .replaced
        case .failure(let errno):
            return .error(errno)
        }
    }

    /// argv and envp copied from user memory under Linux's limits (the
    /// contract of execve above), or the errno.
    static func copyStrings(path: [UInt8], arguments: UInt64, environment: UInt64) -> Result<ExecArguments, Errno> {
        let budget = ExecLimits.budget()
        let maximumPointers = budget / MemoryLayout<UInt64>.size
        let argumentPointers: [UInt64], environmentPointers: [UInt64]
        do throws(UserMemory.StringError) {
            argumentPointers = try UserMemory.pointerArray(at: arguments, maximumCount: maximumPointers)
            environmentPointers = try UserMemory.pointerArray(at: environment, maximumCount: maximumPointers)
        } catch {
            return .failure(error == .fault ? .EFAULT : .E2BIG)
        }
        let pointerBytes = (max(argumentPointers.count, 1) + environmentPointers.count) * MemoryLayout<UInt64>.size
        guard pointerBytes < budget else { return .failure(.E2BIG) }
        // The path is copied onto the new stack first (AT_EXECFN's string).
        var left = budget - pointerBytes - (path.count + 1)
        guard left >= 0 else { return .failure(.E2BIG) }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: UserMemory.stringChunk, alignment: 8)
        defer { scratch.deallocate() }
        func copy(_ pointers: [UInt64]) -> Result<[UInt8], Errno> {
            var bytes: [UInt8] = []
            for pointer in pointers {
                do throws(UserMemory.StringError) {
                    left -= try UserMemory.appendString(at: pointer, maximumLength: ExecLimits.maximumStringLength,
                                                        to: &bytes, scratch: scratch)
                } catch {
                    return .failure(error == .fault ? .EFAULT : .E2BIG)
                }
                guard left >= 0 else { return .failure(.E2BIG) }
            }
            return .success(bytes)
        }
        var strings = ExecArguments()
        switch copy(environmentPointers) {
        case .success(let bytes): strings.adoptEnvironment(bytes, count: environmentPointers.count)
        case .failure(let errno): return .failure(errno)
        }
        switch copy(argumentPointers) {
        case .success(let bytes): strings.adoptArguments(bytes, count: argumentPointers.count)
        case .failure(let errno): return .failure(errno)
        }
        if argumentPointers.isEmpty {
            guard left >= 1 else { return .failure(.E2BIG) }
            strings.appendArgument([])
        }
        return .success(strings)
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
