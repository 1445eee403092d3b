// The VM invariant checker in the running kernel (Kernel/VM/
// VMInvariantChecker.swift), for test builds: the command-line flag
// `vmcheck` turns it on (`make test` boots every QEMU user test with it).
//
// - After every syscall and every resolved page fault: the pages that
//   event touched in the current space (`afterEvent`).
// - At every fork, exec and exit, and every `vmcheck=N` events when N is
//   given: every space and every user frame (`everything`).
// The first violation panics, naming the rule, the address and the frame.
enum VMCheck {
    nonisolated(unsafe) static var enabled = false
    /// Events between full checks; 0: only at fork, exec and exit.
    nonisolated(unsafe) static var interval = 0
    nonisolated(unsafe) private static var events = 0
    /// Full checks run so far (reported at power-off).
    nonisolated(unsafe) static var fullChecks = 0

    /// Reads `vmcheck` / `vmcheck=N` from the command line.
    static func configure(_ commandLine: KernelCommandLine) {
        guard commandLine.has("vmcheck") else { return }
        enabled = true
        if let value = commandLine.value("vmcheck"), let number = Int(value) { interval = number }
    }

    /// Checks what the last syscall or fault touched in `task`'s space.
    static func afterEvent(_ task: Task) {
        guard enabled, task.space != nil else { return }
        if let range = task.space!.takeTouched() {
            do throws(VMInvariantViolation) {
                try task.withSpace { space throws(VMInvariantViolation) in
                    try VMInvariantChecker<DirectMapMemory, KernelFrameAllocator>
                        .checkTouched(space, range, frames: KernelMemory.frames)
                }
            } catch {
                fail(error)
            }
        }
        events += 1
        if interval > 0 && events % interval == 0 { everything() }
    }

    /// Checks every space and every user frame.
    static func everything() {
        guard enabled else { return }
        if let violation = fullCheck() { fail(violation) }
    }

    /// The full check, whether or not `vmcheck` is on (the monitor's
    /// `check`): what is wrong, or nil.
    static func findViolation() -> String? {
        fullCheck().map(describe)
    }

    private static func fullCheck() -> VMInvariantViolation? {
        var checker = VMInvariantChecker<DirectMapMemory, KernelFrameAllocator>(frames: KernelMemory.frames)
        fullChecks += 1
        do throws(VMInvariantViolation) {
            for task in Scheduler.tasks where task.space != nil {
                _ = task.space!.takeTouched()
                try task.withSpace { space throws(VMInvariantViolation) in try checker.add(space) }
            }
            checker.add(FileCache.shared)
            try checker.finish(userFrames: KernelMemory.frames.statistics.frames(.user))
        } catch {
            return error
        }
        return nil
    }

    private static func describe(_ violation: VMInvariantViolation) -> String {
        var line = "VM invariant broken: "
        violation.rule.withUTF8Buffer { line += String(decoding: $0, as: UTF8.self) }
        return line + " at \(hex(violation.address.raw)), frame \(hex(violation.frame.raw))"
    }

    private static func fail(_ violation: VMInvariantViolation) -> Never {
        print(describe(violation))
        fatalError("VM invariant broken")
    }
}
