import HAL

// The syscall entry in Swift (called by Boot/syscall.asm on the task's
// kernel stack, interrupts off). Linux x86-64 convention: the number in
// RAX, arguments in RDI, RSI, RDX, R10, R8, R9, the result or -errno back
// in RAX. Each syscall is a function returning a SyscallOutcome; this file
// turns the outcome into the frame to resume.

/// What a syscall asks the dispatcher to do next.
enum SyscallOutcome {
    /// Return this value in RAX.
    case value(UInt64)
    case error(Errno)
    /// Sleep until woken, then run the same syscall again (Scheduler.block).
    case block(BlockReason)
    /// Return this value, but let other tasks run first (sched_yield).
    case yield(UInt64)
    /// The task is gone (exit, exit_group): run another.
    case exited
    /// The task's registers were replaced (execve): resume them as they are.
    case replaced

    /// A non-negative count, fd or pid as the return value.
    static func integer(_ n: Int) -> SyscallOutcome { .value(UInt64(n)) }
}

/// The six argument registers, in order.
struct SyscallArguments {
    let values: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    init(_ f: hal_interrupt_frame) { values = (f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9) }
    var a0: UInt64 { values.0 }
    var a1: UInt64 { values.1 }
    var a2: UInt64 { values.2 }
    var a3: UInt64 { values.3 }
    var a4: UInt64 { values.4 }
    var a5: UInt64 { values.5 }
    /// An argument Linux declares `int` (dfd, pid_t, clockid_t, options,
    /// flags): its low 32 bits, sign-extended. Bits 63..32 are garbage by
    /// the SysV ABI and Linux ignores them (review finding 8).
    func int(_ value: UInt64) -> Int64 { Int64(Int32(truncatingIfNeeded: value)) }
    /// An argument Linux declares `unsigned int` (fd, count): its low 32
    /// bits, zero-extended.
    func unsignedInt(_ value: UInt64) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: value)) }
    /// An `int` argument used as a bit set (flags, options), as its 32-bit pattern.
    func intBits(_ value: UInt64) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: value)) }
}

@_cdecl("syscall_dispatch")
func syscallDispatch(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> UnsafeMutablePointer<hal_interrupt_frame> {
    Scheduler.recordSavedFrame(frame)
    let task = Scheduler.current!
    let number = frame.pointee.rax, arguments = SyscallArguments(frame.pointee)
    let outcome = Syscalls.perform(number, arguments, task)
    if SyscallTrace.isOn { SyscallTrace.record(task, number, arguments, outcome) }  // monitor's `trace on syscalls`
    VMCheck.afterEvent(task)
    switch outcome {
    case .value(let value):
        frame.pointee.rax = value
        return frame
    case .error(let errno):
        frame.pointee.rax = errno.syscallReturn
        return frame
    case .block(let reason):
        return Scheduler.block(reason)
    case .yield(let value):
        frame.pointee.rax = value
        return Scheduler.schedule()
    case .exited:
        return Scheduler.schedule()
    case .replaced:
        return task.frame
    }
}

enum Syscalls {
    /// Numbers already reported as unknown (each is logged once), up to a
    /// bound so that a program trying every number cannot grow the heap.
    nonisolated(unsafe) private static var reportedUnknown: [UInt64] = []
    static let maximumReportedUnknown = 64

    /// Runs syscall `number` for `task` (the current task).
    ///
    /// Contract: every argument is converted as its Linux prototype
    /// declares it (include/linux/syscalls.h): `unsigned int` and `int`
    /// arguments use only their low 32 bits; `unsigned long`, `size_t` and
    /// pointers all 64. The number itself is an `int` (do_syscall_64 gets
    /// it by `movslq %eax`, then compares it unsigned): 0x1_0000_0027 is
    /// getpid, and a negative number is -ENOSYS.
    static func perform(_ rawNumber: UInt64, _ a: SyscallArguments, _ task: Task) -> SyscallOutcome {
        let number = UInt64(UInt32(truncatingIfNeeded: rawNumber))
        guard let call = SyscallNumber(rawValue: number) else { return unknown(number, task) }
        switch call {
        case .read:
            return FileSyscalls.read(task, fd: Int64(a.unsignedInt(a.a0)), buffer: a.a1, count: a.a2)
        case .write:
            return FileSyscalls.write(task, fd: Int64(a.unsignedInt(a.a0)), buffer: a.a1, count: a.a2)
        case .open:
            return FileSyscalls.open(task, directoryFd: FileABI.atWorkingDirectory, path: a.a0, flags: a.intBits(a.a1))
        case .openat:
            return FileSyscalls.open(task, directoryFd: a.int(a.a0), path: a.a1, flags: a.intBits(a.a2))
        case .close: return FileSyscalls.close(task, fd: Int64(a.unsignedInt(a.a0)))
        case .getdents64:
            return FileSyscalls.getdents64(task, fd: Int64(a.unsignedInt(a.a0)), buffer: a.a1, count: a.unsignedInt(a.a2))
        case .brk: return MemorySyscalls.brk(task, address: a.a0)
        case .mmap:
            // x86-64 sys_mmap takes every argument as unsigned long, but the
            // fd reaches fget(), an unsigned int.
            return MemorySyscalls.mmap(task, address: a.a0, length: a.a1, protection: a.a2, flags: a.a3,
                                       fd: Int64(a.unsignedInt(a.a4)), offset: a.a5)
        case .munmap: return MemorySyscalls.munmap(task, address: a.a0, length: a.a1)
        case .mprotect: return MemorySyscalls.mprotect(task, address: a.a0, length: a.a1, protection: a.a2)
        case .mremap:
            return MemorySyscalls.mremap(task, address: a.a0, oldLength: a.a1, newLength: a.a2, flags: a.a3,
                                         newAddress: a.a4)
        case .schedYield: return .yield(0)
        case .getpid: return .integer(task.pid)
        case .getppid: return .integer(task.parentPid)
        case .fork: return ProcessSyscalls.fork(task)
        case .execve: return ProcessSyscalls.execve(task, path: a.a0, arguments: a.a1, environment: a.a2)
        case .exit, .exitGroup: return ProcessSyscalls.exit(task, code: a.a0)   // int; only the low 8 bits count
        case .wait4: return ProcessSyscalls.wait4(task, pid: a.int(a.a0), status: a.a1, options: a.intBits(a.a2),
                                                 resourceUsage: a.a3)
        case .uname: return InfoSyscalls.uname(buffer: a.a0)
        case .sysinfo: return InfoSyscalls.sysinfo(buffer: a.a0)
        case .clockGettime: return InfoSyscalls.clockGettime(clock: a.int(a.a0), buffer: a.a1)
        case .getrlimit: return LimitSyscalls.getrlimit(task, resource: a.unsignedInt(a.a0), buffer: a.a1)
        case .setrlimit: return LimitSyscalls.setrlimit(task, resource: a.unsignedInt(a.a0), buffer: a.a1)
        case .prlimit64: return LimitSyscalls.prlimit64(task, pid: a.int(a.a0), resource: a.unsignedInt(a.a1),
                                                        newLimit: a.a2, oldLimit: a.a3)
        }
    }

    /// -ENOSYS, with one log line the first time each number is seen.
    private static func unknown(_ number: UInt64, _ task: Task) -> SyscallOutcome {
        if reportedUnknown.count < maximumReportedUnknown && !reportedUnknown.contains(number) {
            reportedUnknown.append(number)
            print("pid \(task.pid) (\(task.displayName)): unknown syscall \(Int32(truncatingIfNeeded: number)), returning -ENOSYS")
            if reportedUnknown.count == maximumReportedUnknown { print("syscall: no more unknown numbers will be logged") }
        }
        return .error(.ENOSYS)
    }
}
