import HAL

// Round-robin preemptive scheduling on one CPU (Linux's SCHED_RR reduced
// to one queue): the PIT's tick moves the CPU to the next ready task after
// the current one in creation order; when none is ready the idle task
// halts until the next interrupt.
//
// A switch never happens inside kernel code: every entry from ring 3 (an
// interrupt, exception or syscall) saves the task's registers in a frame on
// its kernel stack and returns the frame to resume; switching is returning
// another task's frame (Boot/interrupts.asm, Boot/syscall.asm). So the
// kernel needs no context-switch routine and no per-task kernel context.
//
// Blocking is by re-execution: a syscall that cannot finish (read on an
// empty console, wait4 with live children) rewinds the task's RIP to the
// `syscall` instruction and marks it blocked; when woken it simply makes
// the same syscall again. Nothing is half-done in the kernel meanwhile.
enum Scheduler {
    /// Every user task, zombies included, in creation order.
    nonisolated(unsafe) static var tasks: [Task] = []
    nonisolated(unsafe) static var idle: Task! = nil
    nonisolated(unsafe) static var current: Task! = nil

    static let timerVector = PIC.vectorBase + PIT.irqLine
    /// Length of the `syscall` instruction (0F 05).
    static let syscallInstructionLength: UInt64 = 2

    /// Makes the running boot thread the idle task (pid 0) on `stack`.
    static func adoptBootThreadAsIdle(stack: KernelStack) {
        let task = Task(pid: 0, parentPid: 0, name: Array("idle".utf8), space: nil,
                        cr3: KernelMemory.kernelSpace.table.root.raw, kernelStack: stack,
                        files: FileTable.standard(), limits: ProcessTable.bootLimits())
        task.state = .running
        idle = task
        current = task
    }

    /// Starts the tick and idles; the first tick switches to a ready task.
    static func runIdleLoop() -> Never {
        PIC.remapAndMaskAll()
        KernelMonitor.openAtBootIfAsked()
        PIT.start()
        while true {
            ConsoleDevice.pollInput()
            hal_sti()
            hal_hlt()
            hal_cli()
        }
    }

    /// Records where the running task's registers were saved; called first
    /// on every kernel entry that may switch.
    static func recordSavedFrame(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) {
        current.frame = frame
    }

    /// The timer interrupt: time, console input, then the next task.
    static func timerTick() -> UnsafeMutablePointer<hal_interrupt_frame> {
        PIC.acknowledge(line: PIT.irqLine)
        Clock.tick()
        ConsoleDevice.pollInput()
        GDBView.refresh()  // the gdb helpers' view of the tasks (qemu/gdbinit)
        return schedule()
    }

    /// Gives the CPU to the next ready task (maybe the current one again).
    static func schedule() -> UnsafeMutablePointer<hal_interrupt_frame> {
        if current.state == .running { current.state = .ready }
        return switchTo(nextReady())
    }

    /// Blocks the current task in its syscall until `wake(reason)`, then
    /// re-executes the syscall.
    static func block(_ reason: BlockReason) -> UnsafeMutablePointer<hal_interrupt_frame> {
        current.frame.pointee.rip -= syscallInstructionLength
        current.state = .blocked(reason)
        return schedule()
    }

    /// Makes every task blocked for `reason` (and passing `filter`) ready.
    static func wake(_ reason: BlockReason, where filter: (Task) -> Bool = { _ in true }) {
        for task in tasks where task.state == .blocked(reason) && filter(task) {
            task.state = .ready
        }
    }

    /// The first ready task after the current one, round robin, else idle.
    private static func nextReady() -> Task {
        let count = tasks.count
        guard count > 0 else { return idle }
        var start = 0
        for (index, task) in tasks.enumerated() where task === current { start = index + 1 }
        for step in 0..<count {
            let task = tasks[(start + step) % count]
            if task.state == .ready { return task }
        }
        return idle
    }

    /// Loads `next`'s stacks, segment selectors and address space, and
    /// names its FPU area as the one to resume; returns its frame. The FPU
    /// registers themselves are switched only on the return to ring 3,
    /// and only if they are not `next`'s already (FPUOwnership.swift).
    private static func switchTo(_ next: Task) -> UnsafeMutablePointer<hal_interrupt_frame> {
        let previous: Task = current
        if previous !== next {
            previous.segments = UserSegments.live()
            if previous.segments != next.segments { next.segments.load() }
        }
        current = next
        next.state = .running
        GDT.setKernelStack(top: next.kernelStack.top)
        hal_set_syscall_kernel_stack(next.kernelStack.top)
        hal_set_fpu_state_area(next.fpuState)
        if hal_read_cr3() != next.cr3 { hal_write_cr3(next.cr3) }
        return next.frame
    }
}
