import HAL

// The kernel monitor on the serial console (xv6-style: one loop, one table
// of commands). It opens:
//   - on Ctrl-\ (0x1c) typed on the console, at any time: ConsoleDevice
//     sees the byte on the next timer tick or in the idle loop, so even a
//     task spinning in ring 3 is stopped (Linux's VQUIT key; there is no
//     SIGQUIT here). QEMU's mux does not take Ctrl-\ (its escape is Ctrl-A);
//   - at boot with the kernel option `monitor`, after init is created and
//     before it runs;
//   - as the fallback when there is no boot archive (Kernel/Init/Monitor.swift).
// While it runs, the kernel is stopped: interrupts are off, no task runs,
// the clock does not tick. `continue` resumes everything.
//
// Contract of every command: it reads kernel structures and prints; only
// `kill`, `trace`, `task` and `continue` change state.
enum KernelMonitor {
    /// Ctrl-\ opens the monitor.
    static let openKey: UInt8 = 0x1C
    static let prompt: StaticString = "monitor> "

    /// The task `mem` reads through (`task PID`), else the running one.
    nonisolated(unsafe) static var selectedPid: Int? = nil
    nonisolated(unsafe) static var isOpen = false

    struct Command {
        let name: String
        let usage: String
        let help: String
        /// Runs with the words after the name; returns true to leave the monitor.
        let run: ([Substring]) -> Bool
    }

    static let commands: [Command] = [
        Command(name: "help", usage: "help", help: "this list", run: { _ in showHelp(); return false }),
        Command(name: "continue", usage: "continue", help: "leave the monitor, resume the tasks",
                run: { _ in true }),
        Command(name: "ps", usage: "ps", help: "tasks: pid, parent, state, RSS, mapped size, name",
                run: { _ in TaskCommands.ps(); return false }),
        Command(name: "vmas", usage: "vmas PID", help: "a task's mappings and a picture of its address space",
                run: { TaskCommands.vmas($0); return false }),
        Command(name: "pt", usage: "pt PID ADDR", help: "the four-level page walk of ADDR, entries decoded",
                run: { MemoryCommands.pageTable($0); return false }),
        Command(name: "frames", usage: "frames", help: "frame allocator: frames by kind, free blocks per order, count histograms",
                run: { _ in MemoryCommands.frames(); return false }),
        Command(name: "tlb", usage: "tlb", help: "TLB flush counters by kind",
                run: { _ in MemoryCommands.tlb(); return false }),
        Command(name: "faults", usage: "faults", help: "page faults by outcome, fault kills by signal",
                run: { _ in TaskCommands.faults(); return false }),
        Command(name: "trace", usage: "trace on|off [faults|syscalls]", help: "log every page fault and/or syscall (default both)",
                run: { trace($0); return false }),
        Command(name: "check", usage: "check", help: "run the VM invariant checks now",
                run: { _ in check(); return false }),
        Command(name: "task", usage: "task PID", help: "select the task whose page tables `mem` reads",
                run: { selectTask($0); return false }),
        Command(name: "mem", usage: "mem ADDR LEN", help: "hexdump virtual memory through the selected task's page tables",
                run: { MemoryCommands.mem($0); return false }),
        Command(name: "phys", usage: "phys ADDR LEN", help: "hexdump physical memory through the direct map",
                run: { MemoryCommands.phys($0); return false }),
        Command(name: "kill", usage: "kill PID", help: "kill a task with SIGKILL (kill 1 shuts down, as init's death does)",
                run: { TaskCommands.kill($0); return false }),
        Command(name: "panic", usage: "panic", help: "a deliberate ud2 (tests the panic path)",
                run: { _ in hal_ud2(); return false }),
        Command(name: "poweroff", usage: "poweroff", help: "exit QEMU now", run: { _ in
            print("Powering off."); QemuExit.exit(.success)
        }),
    ]

    /// Opens the monitor until `continue`. `why` says what opened it.
    /// With `canContinue` false (no user space to resume), `continue` is refused.
    static func open(_ why: String, canContinue: Bool = true) {
        guard !isOpen else { return }
        isOpen = true
        GDBView.refresh()
        print("\nmonitor: \(why); kernel stopped. Type 'help' for commands, 'continue' to resume.")
        while true {
            Console.write(prompt)
            let line = readLine()
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = words.first else { continue }
            guard let command = commands.first(where: { $0.name == String(first) }) else {
                print("unknown command: \(first) (try 'help')")
                continue
            }
            if command.run(Array(words.dropFirst())) {
                if canContinue { break }
                print("nothing to continue: there is no user space (no boot archive)")
            }
        }
        print("monitor: resuming")
        isOpen = false
    }

    /// Opens the monitor at boot if the command line has `monitor`.
    static func openAtBootIfAsked() {
        guard let commandLine = Boot.commandLine, commandLine.has("monitor") else { return }
        open("boot option 'monitor'")
    }

    static func showHelp() {
        print("Kernel monitor (opened by Ctrl-\\ on the console, or the boot option 'monitor').")
        print("Numbers are decimal or 0x hex; '_' may group digits.")
        for command in commands {
            print("  \(MonitorText.pad(command.usage, 32))\(command.help)")
        }
    }

    static func trace(_ words: [Substring]) {
        guard let mode = words.first, mode == "on" || mode == "off", words.count <= 2 else {
            print("usage: trace on|off [faults|syscalls]"); return
        }
        let on = mode == "on"
        let what = words.count == 2 ? String(words[1]) : "all"
        switch what {
        case "faults": FaultStatistics.tracing = on
        case "syscalls": SyscallTrace.isOn = on
        case "all": FaultStatistics.tracing = on; SyscallTrace.isOn = on
        default: print("usage: trace on|off [faults|syscalls]"); return
        }
        print("trace: faults \(FaultStatistics.tracing ? "on" : "off"), syscalls \(SyscallTrace.isOn ? "on" : "off")")
    }

    static func check() {
        let problems = MonitorHooks.checkInvariants()
        if problems.isEmpty {
            let spaces = Scheduler.tasks.filter { MonitorHooks.hasSpace($0) }.count
            print("check: OK (frame allocator; \(spaces) address spaces: regions ordered, page table within regions, resident counts)")
        } else {
            for problem in problems { print("check: FAILED: \(problem)") }
        }
    }

    static func selectTask(_ words: [Substring]) {
        guard words.count == 1, let pid = MonitorText.parseNumber(words[0]), let task = ProcessTable.find(Int(pid)) else {
            print("usage: task PID (a live task; see ps)"); return
        }
        selectedPid = task.pid
        print("mem now reads pid \(task.pid) (\(task.displayName))")
    }

    /// The task whose page tables `mem` uses: the selected one, else the
    /// running one, else init.
    static func selectedTask() -> Task? {
        if let pid = selectedPid, let task = ProcessTable.find(pid), MonitorHooks.hasSpace(task) { return task }
        if let current = Scheduler.current, MonitorHooks.hasSpace(current) { return current }
        if let initTask = ProcessTable.find(ProcessTable.initPid), MonitorHooks.hasSpace(initTask) { return initTask }
        return nil
    }

    /// Reads one line from the serial console, echoing it, with backspace.
    static func readLine() -> String {
        var bytes: [UInt8] = []
        while true {
            guard let byte = Serial.poll() else { hal_pause(); continue }
            switch byte {
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                Serial.put(UInt8(ascii: "\n"))
                return String(decoding: bytes, as: UTF8.self)
            case LineDiscipline.backspace, LineDiscipline.delete:
                if !bytes.isEmpty { bytes.removeLast(); Console.write("\u{8} \u{8}") }
            case 0x20...0x7E:
                bytes.append(byte)
                Serial.putRaw(byte)
            default:
                continue  // other control keys (Ctrl-\ again) do nothing here
            }
        }
    }
}
