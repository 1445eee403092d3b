import HAL

// Ctrl-C on the console: SIGINT to the foreground job, as a tty's ISIG
// sends it to the foreground process group (drivers/tty/n_tty.c).
//
// Decision (there are no process groups or signal handlers yet): the
// console's session leader is init (pid 1). The foreground job is the
// child init waits for by pid: init blocked in wait4(pid > 0), whose saved
// registers still hold the arguments since a blocked syscall is re-executed
// (Scheduler.block). The job and all its descendants are killed, since in
// Linux they would share its process group. A background job (the shell
// does not wait for it) is left alone, as job-control shells leave it.
// Init itself is never signalled (Linux does not deliver unhandled signals
// to init). With no foreground job, Ctrl-C only discards the typed line.
//
// Known deviation: the signal cannot be caught or ignored (no handlers);
// the wait status is that of a SIGINT death (2), as on Linux without a handler.
enum ConsoleInterrupt {
    /// SIGINT's number, and so its wait status (Linux wait.h: the signal in bits 0..6).
    static let sigint: UInt32 = 2
    /// wait4's syscall number, to recognise init's blocked call.
    static let wait4Number = SyscallNumber.wait4.rawValue

    /// Kills the foreground job, if there is one, with SIGINT.
    /// Contract: called from the timer tick or the idle loop (every task's
    /// registers saved), interrupts off.
    static func interruptForeground() {
        guard let job = foregroundJob() else { return }
        var victims: [Task] = [job]
        var index = 0
        while index < victims.count {
            let parent = victims[index]
            for task in Scheduler.tasks where task.parentPid == parent.pid && task.state != .zombie {
                victims.append(task)
            }
            index += 1
        }
        print("console: Ctrl-C: SIGINT to pid \(job.pid) (\(job.displayName))\(victims.count > 1 ? " and \(victims.count - 1) descendants" : "")")
        for task in victims.reversed() where task.state != .zombie {
            Lifecycle.terminate(task, waitStatus: sigint)
        }
    }

    /// The child init waits for by pid, if it is alive.
    static func foregroundJob() -> Task? {
        guard let leader = ProcessTable.find(ProcessTable.initPid), leader.state == .blocked(.childExit),
              leader.frame.pointee.rax == wait4Number else { return nil }
        let pid = Int64(bitPattern: leader.frame.pointee.rdi)
        guard pid > 0, let job = ProcessTable.find(Int(pid)), job.state != .zombie,
              job.parentPid == leader.pid else { return nil }
        return job
    }
}
