import HAL

// Where every interrupt and exception lands (called by Boot/interrupts.asm).
//
// Returns the frame to resume: the one passed in, unless the scheduler
// switched to another task.
//   - A page fault is first resolved through the current address space
//     (PageFaultEntry.swift): demand paging, copy-on-write, also for the
//     kernel's user copies. Only an unresolvable one goes on below.
//   - An exception the task raised in ring 3 kills only that task
//     (Lifecycle.killForFault); NMI and machine check are not the task's.
//   - An exception in the kernel resumes at its exception-table fixup
//     (user copies, self-test probes) or panics.
//   - The timer runs the scheduler.
@_cdecl("interrupt_dispatch")
func interruptDispatch(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> UnsafeMutablePointer<hal_interrupt_frame> {
    let vector = Int(frame.pointee.vector)
    let fromUser = frame.pointee.cs & 3 == 3
    if vector == ExceptionVector.nmi.rawValue || vector == ExceptionVector.machineCheck.rawValue {
        // Not caused by the running task, whatever ring it was in.
        if vector == ExceptionVector.machineCheck.rawValue { Panic.exception(frame) }
        Console.write("interrupt: NMI received, ignored\n")
        return frame
    }
    if vector < ExceptionVector.count {
        let isPageFault = vector == ExceptionVector.pageFault.rawValue
        if fromUser {
            Scheduler.recordSavedFrame(frame)
            var resolution: FaultResolution? = nil
            if isPageFault && PageFaultEntry.isResolvable(frame) {
                resolution = PageFaultEntry.resolve(PageFaultEntry.fault(of: frame))
                if resolution?.isResolved == true { return frame }
            }
            return Lifecycle.killForFault(frame, resolution: resolution)
        }
        if isPageFault && PageFaultEntry.resolveKernelAccess(frame) { return frame }
        if ExceptionFixup.recover(frame) { return frame }
        Panic.exception(frame)
    }
    if vector == Scheduler.timerVector {
        // The kernel runs with interrupts off except in the idle loop, so
        // the tick interrupts either a user task or idle.
        Scheduler.recordSavedFrame(frame)
        return Scheduler.timerTick()
    }
    if vector == PIC.spuriousPrimaryVector || vector == PIC.spuriousSecondaryVector { return frame }
    Console.write("interrupt: unexpected vector "); Console.decimal(UInt64(vector)); Console.write("\n")
    return frame
}
