import HAL

// fork, exit, kill and reap (Linux kernel/fork.c, kernel/exit.c).
//
// Ownership over a task's life:
//   running  -> owns an address space, a kernel stack, an FPU area, files,
//               and maybe the FPU registers (FPUOwnership.swift)
//   zombie   -> exit freed the space and the files and gave up the FPU
//               registers at once; the kernel stack stays (exit runs on
//               it) until the parent reaps
//   reaped   -> stack freed, task dropped from the table (the FPU area
//               goes with the Task object)
enum Lifecycle {
    /// fork: a copy of `parent` (memory shared copy-on-write, files shared
    /// as in Linux, the same resource limits, which the space's fork also
    /// copies) that returns 0 from the same syscall. Returns the child's pid.
    static func fork(_ parent: Task) -> Result<Int, Errno> {
        guard let child = ProcessTable.newTask(parentPid: parent.pid, name: parent.name, files: parent.files,
                                               limits: parent.limits) else {
            return .failure(.ENOMEM)
        }
        do {
            child.space = try parent.space!.fork(kernel: KernelMemory.kernelSpace.table, tlb: KernelMemory.tlb)
        } catch {
            KernelStacks.free(child.kernelStack)
            return .failure(.ENOMEM)
        }
        child.cr3 = child.space!.table.root.raw
        child.frame.pointee = parent.frame.pointee
        child.frame.pointee.rax = 0
        FPUOwnership.copyState(of: parent, into: child)
        // The parent is running: its selectors are the CPU's (Linux copy_thread).
        child.segments = UserSegments.live()
        child.state = .ready
        Scheduler.tasks.append(child)
        VMCheck.everything()
        return .success(child.pid)
    }

    /// Ends `task` with `waitStatus`: frees its memory and files, hands its
    /// children to init and wakes its parent. If it is init, the system
    /// shuts down (this does not return then).
    static func terminate(_ task: Task, waitStatus: UInt32, reportToParent: Bool = true) {
        let kernelRoot = KernelMemory.kernelSpace.table.root.raw
        if Scheduler.current === task { hal_write_cr3(kernelRoot) }
        task.cr3 = kernelRoot
        if let space = task.space.take() { space.tearDown() }
        VMCheck.everything()
        task.files.closeAll()
        FPUOwnership.release(task)  // a zombie never returns to ring 3
        task.waitStatus = waitStatus
        task.state = .zombie
        guard reportToParent else { return }
        for child in Scheduler.tasks where child.parentPid == task.pid { child.parentPid = ProcessTable.initPid }
        if task.pid == ProcessTable.initPid { ProcessTable.initExited() }
        Scheduler.wake(.childExit) { $0.pid == task.parentPid || $0.pid == ProcessTable.initPid }
    }

    /// Kills the current task for a CPU exception it raised in ring 3 that
    /// nothing resolved (`resolution`: what the fault path said of a page
    /// fault), with one log line naming the mapping the address fell in,
    /// and returns the next task's frame.
    static func killForFault(_ frame: UnsafeMutablePointer<hal_interrupt_frame>,
                             resolution: FaultResolution? = nil) -> UnsafeMutablePointer<hal_interrupt_frame> {
        let task = Scheduler.current!
        let f = frame.pointee
        var signal = signalFor(vector: Int(f.vector))
        if resolution == .beyondEnd { signal = .SIGBUS }         // Linux VM_FAULT_SIGBUS
        if resolution == .outOfMemory { signal = .SIGKILL }      // Linux: the OOM killer's signal
        var line = "pid \(task.pid) (\(task.displayName)): killed by \(signalName(signal.rawValue)): "
        let vector = ExceptionVector(rawValue: Int(f.vector))
        vector?.name.withUTF8Buffer { line += String(decoding: $0, as: UTF8.self) }
        if vector == .pageFault {
            let fault = PageFaultEntry.fault(of: frame)
            let access = fault.access == .execute ? "execute" : (fault.access == .write ? "write" : "read")
            let why = PageFaultEntry.notTheVMs(frame)?.reason ?? Self.describe(resolution, present: fault.wasPresent)
            line += " at \(hex(fault.address.raw)) (\(access), \(why))"
            line += ", rip \(hex(f.rip)), " + MappingReport.describe(task, at: fault.address)
            // Linux's OOM-kill line gives the victim's sizes the same way.
            if resolution == .outOfMemory { line += "; " + MappingReport.memorySummary(task) }
        } else {
            if f.error_code != 0 { line += " (error code \(hex(f.error_code)))" }
            line += ", rip \(hex(f.rip))"
        }
        FaultReport.recordKill(task, frame: f, signal: signal)  // the monitor's fault statistics
        print(line)
        terminate(task, waitStatus: WaitStatus.killed(by: signal))
        return Scheduler.schedule()
    }

    /// Why a page fault could not be resolved, for the kill line.
    private static func describe(_ resolution: FaultResolution?, present: Bool) -> String {
        switch resolution {
        case .notMapped?: return "not mapped"
        case .accessDenied?: return "access denied"
        case .beyondEnd?: return "beyond the end of the object"
        case .outOfMemory?: return "out of memory"
        default: return present ? "protection" : "not mapped"
        }
    }

    /// The signal Linux sends for exception `vector` (arch/x86/kernel/traps.c).
    static func signalFor(vector: Int) -> Signal {
        switch ExceptionVector(rawValue: vector) {
        case .divideError, .x87FloatingPoint, .simdFloatingPoint: return .SIGFPE
        case .debug, .breakpoint: return .SIGTRAP
        case .invalidOpcode: return .SIGILL
        case .segmentNotPresent, .stackFault, .alignmentCheck: return .SIGBUS
        default: return .SIGSEGV
        }
    }

    /// Frees a zombie's kernel stack and forgets it. Not the running task's.
    static func reap(_ task: Task) {
        precondition(task.state == .zombie && task !== Scheduler.current, "reap: not a zombie, or running")
        KernelStacks.free(task.kernelStack)
        Scheduler.tasks.removeAll { $0 === task }
    }
}
