import KernelSymbols

// Keeps gdb_view (Kernel/Monitor/Symbols/gdb_view.h) in step with the
// scheduler's tasks, for the gdb helpers in qemu/gdbinit.
enum GDBView {
    /// Rewrites the whole view. Contract: interrupts off (one writer).
    /// Cost: a few stores per task and region, 100 times a second; on
    /// every task switch it would tax each sched_yield or blocking switch.
    static func refresh() {
        let view = gdb_view_root()!
        // Also keeps gdb_view_layout linked in (the helpers read it).
        precondition(gdb_view_size_in_c() == UInt64(MemoryLayout<gdb_view>.size), "gdb_view: C and Swift disagree")
        view.pointee.magic = GDB_VIEW_MAGIC
        view.pointee.refreshes &+= 1
        view.pointee.current_pid = Int64(Scheduler.current?.pid ?? -1)
        var count: UInt64 = 0
        for task in Scheduler.tasks where count < UInt64(GDB_VIEW_MAX_TASKS) {
            write(task, into: gdb_view_task_at(count)!)
            count += 1
        }
        view.pointee.task_count = count
    }

    private static func write(_ task: Task, into record: UnsafeMutablePointer<gdb_view_task>) {
        record.pointee.pid = Int64(task.pid)
        record.pointee.parent_pid = Int64(task.parentPid)
        record.pointee.state = stateCode(task.state)
        record.pointee.cr3 = task.cr3
        record.pointee.frame = UInt64(UInt(bitPattern: task.frame))
        let name = gdb_view_name(record)!
        let length = min(task.name.count, Int(GDB_VIEW_NAME_BYTES) - 1)
        for index in 0..<length { name[index] = CChar(bitPattern: task.name[index]) }
        name[length] = 0
        guard MonitorHooks.hasSpace(task) else {
            record.pointee.resident_pages = 0; record.pointee.region_count = 0; record.pointee.regions_cut = 0
            return
        }
        record.pointee.resident_pages = UInt64(task.withSpace { $0.residentPages })
        var written: UInt64 = 0, cut: UInt64 = 0
        // Only the regions shown are visited, one index descent each (this
        // runs on every timer tick, and a space may have 65530 regions);
        // the rest are counted.
        var next = task.withSpace { $0.firstRegion(endingAbove: VirtualAddress(0)) }
        while let region = next, written < UInt64(GDB_VIEW_MAX_REGIONS) {
            // SAFETY: `written` < GDB_VIEW_MAX_REGIONS, the slots of `record`.
            let slot = gdb_view_region_at(record, written)!
            slot.pointee.start = region.start.raw
            slot.pointee.end = region.end.raw
            slot.pointee.protection = UInt32(region.protection.rawValue)
            slot.pointee.kind = kindCode(region.kind)
            slot.pointee.may_protection = UInt32(region.mayProtection.rawValue)
            slot.pointee.backing = backingCode(region.backing)
            if case .privateAnonymous = region.backing { slot.pointee.offset = 0 }
            else { slot.pointee.offset = region.pageOffset &* pageSize }
            written += 1
            next = task.withSpace { $0.firstRegion(endingAbove: region.end) }
        }
        cut = UInt64(task.withSpace { $0.regionCount }) - written
        record.pointee.region_count = written
        record.pointee.regions_cut = cut
    }

    static func stateCode(_ state: TaskState) -> UInt64 {
        switch state {
        case .ready: return 0
        case .running: return 1
        case .blocked(.consoleInput): return 2
        case .blocked(.childExit): return 3
        case .zombie: return 4
        default: return 5   // a state added later (qemu/gdbinit shows "?")
        }
    }

    /// gdb_view_region.backing (qemu/gdbinit's BACKINGS; the names are the
    /// monitor's `vmas` column, MonitorHooks.backingName).
    static func backingCode(_ backing: RegionBacking) -> UInt32 {
        switch backing {
        case .privateAnonymous: return 0
        case .shared: return 1
        case .privateFile: return 2
        case .sharedFile: return 3
        }
    }

    static func kindCode(_ kind: RegionKind) -> UInt32 {
        switch kind {
        case .image: return 0
        case .heap: return 1
        case .stack: return 2
        case .anonymous: return 3
        default: return 4   // a kind added later (qemu/gdbinit shows "?")
        }
    }
}
