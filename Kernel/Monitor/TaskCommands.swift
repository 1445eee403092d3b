// Monitor commands about tasks: ps, vmas, faults, kill.
enum TaskCommands {
    /// Characters of the `vmas` picture per mapping, at most.
    static let pictureWidthPerMapping = 32

    /// ps: one line per task (idle first), the running one marked `*`:
    /// the resident set and its parts, and the mapped size, from the
    /// space's counters (Linux get_mm_rss, MM_ANONPAGES, MM_FILEPAGES,
    /// MM_SHMEMPAGES, total_vm; the zero page counts in none).
    static func ps() {
        print(MonitorText.row([("PID", 5), ("PPID", 5), ("STATE", 16), ("RSS", 9), ("ANON", 9), ("FILE", 9),
                               ("SHMEM", 9), ("MAPPED", 9), ("NAME", 0)], rightAligned: [0, 1, 3, 4, 5, 6, 7]))
        var all: [Task] = []
        if let idle = Scheduler.idle { all.append(idle) }
        all += Scheduler.tasks
        for task in all {
            let c = MonitorHooks.counters(task) ?? MemoryCounters()
            func size(_ pages: Int) -> String { formatSize(UInt64(pages) * pageSize) }
            let mark = task === Scheduler.current ? "*" : ""
            print(MonitorText.row([("\(mark)\(task.pid)", 5), ("\(task.parentPid)", 5),
                                   (MonitorText.taskState(task.state), 16), (size(c.residentSetPages), 9),
                                   (size(c.anonymousPages), 9), (size(c.filePages), 9), (size(c.sharedPages), 9),
                                   (size(c.totalPages), 9), (task.displayName, 0)],
                                  rightAligned: [0, 1, 3, 4, 5, 6, 7]))
        }
    }

    /// vmas PID: every mapping, then the picture.
    static func vmas(_ words: [Substring]) {
        guard let task = liveTask(words, usage: "vmas PID") else { return }
        let views = MonitorHooks.regionViews(task)
        print("pid \(task.pid) (\(task.displayName)): \(views.count) mappings, page table root \(MonitorText.hex(task.cr3))")
        print("  " + MappingReport.memorySummary(task))
        print(MonitorText.row([("START", 16), ("END", 16), ("SIZE", 9), ("PERM", 4), ("MAY", 4), ("KIND", 5),
                               ("BACKING", 7), ("OFFSET", 8), ("RESIDENT", 0)], rightAligned: [2]))
        for v in views {
            let pages = Int((v.end - v.start) / pageSize)
            print(MonitorText.row([(MonitorText.hex(v.start), 16), (MonitorText.hex(v.end), 16),
                                   (formatSize(v.end - v.start), 9), (v.protection, 4), (v.mayProtection, 4),
                                   (v.kind, 5), (v.backing, 7), (v.offset.map { MonitorText.hex($0) } ?? "-", 8),
                                   ("\(v.residentPages)/\(pages) pages", 0)], rightAligned: [2]))
        }
        print("picture: \(picture(task, views))")
        print("  (# resident, . mapped but not resident, : partly resident; [..] one mapping, ~size~ unmapped gap)")
    }

    /// One character per group of pages of each mapping, gaps as their size.
    static func picture(_ task: Task, _ views: [MonitorRegionView]) -> String {
        var text = ""
        var previousEnd: UInt64? = nil
        for v in views {
            if let end = previousEnd, v.start > end { text += " ~\(formatSize(v.start - end))~ " }
            let pages = Int((v.end - v.start) / pageSize)
            let width = min(pages, pictureWidthPerMapping)
            let perChar = (pages + width - 1) / width
            var resident = [Int](repeating: 0, count: width)
            PageWalk.forEachUserLeaf(cr3: task.cr3, in: v.start..<v.end) { address, _ in
                resident[Int((address - v.start) / pageSize) / perChar] += 1
            }
            text += "["
            for column in 0..<width {
                let inColumn = min(perChar, pages - column * perChar)
                text += resident[column] == 0 ? "." : (resident[column] >= inColumn ? "#" : ":")
            }
            text += "]"
            previousEnd = v.end
        }
        return text.isEmpty ? "(no mappings)" : text
    }

    /// faults: counters by outcome and kills by signal.
    static func faults() {
        print("Page faults by outcome (resolved ones are counted once the #PF path resolves faults):")
        for outcome in FaultOutcome.allCases {
            print("  \(MonitorText.pad(outcome.name, 12)) \(MonitorText.pad("\(FaultStatistics.byOutcome[outcome.rawValue])", 8, right: true))")
        }
        print("Tasks killed for a CPU exception, by signal:")
        var any = false
        for (signal, count) in FaultStatistics.killsBySignal.enumerated() where count > 0 {
            any = true
            print("  \(MonitorText.pad(signalName(UInt32(signal)), 12)) \(MonitorText.pad("\(count)", 8, right: true))")
        }
        if !any { print("  none") }
    }

    /// kill PID: SIGKILL, with the usual exit processing.
    static func kill(_ words: [Substring]) {
        guard let task = liveTask(words, usage: "kill PID") else { return }
        print("monitor: killing pid \(task.pid) (\(task.displayName)) with SIGKILL")
        Lifecycle.terminate(task, waitStatus: WaitStatus.killed(by: .SIGKILL))
    }

    /// The live user task named by the only word, or nil after printing `usage`.
    static func liveTask(_ words: [Substring], usage: String) -> Task? {
        guard words.count == 1, let pid = MonitorText.parseNumber(words[0]) else { print("usage: \(usage)"); return nil }
        guard let task = ProcessTable.find(Int(pid)), MonitorHooks.hasSpace(task) else {
            print("no live task with pid \(pid) (see ps)"); return nil
        }
        return task
    }
}
