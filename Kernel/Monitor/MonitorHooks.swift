// The monitor's view of the VM layer: the one place that reads regions,
// fault outcomes and invariants, so that the VM rewrite changes only this
// file to show more (backing, may-permissions, offsets, resolved faults).
//
// Regions show their range, protection, may-protection, kind, backing and
// offset; resident pages come from the page table; the fault path counts
// every outcome; `check` runs the frame allocator's self-check and checks
// each space's page table against its regions (invariants 2 and 3 of
// UserAddressSpace.swift).

/// One mapping as the monitor shows it.
struct MonitorRegionView {
    let start: UInt64
    let end: UInt64
    let protection: String
    /// What mprotect may raise the protection to (VM_MAY*).
    let mayProtection: String
    /// What the pages come from: `anon`, `shmem` (a shared memory
    /// object), `file` (private file mapping), `shfile` (shared file mapping).
    let backing: String
    /// Byte offset of the first page in the backing object (Linux
    /// /proc/PID/maps' offset); nil for private anonymous memory.
    let offset: UInt64?
    let kind: String
    let residentPages: Int
}

enum MonitorHooks {
    /// True if `task` has an address space (Task.swift: only idle and zombies have none).
    static func hasSpace(_ task: Task) -> Bool { task.pid != 0 && task.state != .zombie }

    /// The memory counters of `task`'s space (nil for idle and zombies).
    static func counters(_ task: Task) -> MemoryCounters? {
        hasSpace(task) ? task.withSpace { $0.counters } : nil
    }

    /// The mappings of `task` (none for idle and zombies).
    static func regionViews(_ task: Task) -> [MonitorRegionView] {
        guard hasSpace(task) else { return [] }
        let regions = task.withSpace { $0.regions }
        var resident: [Int] = Array(repeating: 0, count: regions.count)
        for (index, region) in regions.enumerated() {
            PageWalk.forEachUserLeaf(cr3: task.cr3, in: region.start.raw..<region.end.raw) { _, _ in
                resident[index] += 1
            }
        }
        var views: [MonitorRegionView] = []
        for (index, region) in regions.enumerated() {
            views.append(MonitorRegionView(start: region.start.raw, end: region.end.raw,
                                           protection: MonitorText.protection(region.protection),
                                           mayProtection: MonitorText.protection(region.mayProtection),
                                           backing: backingName(region.backing),
                                           offset: region.backing.file == nil && region.backing.isPrivate ? nil : region.pageOffset * pageSize,
                                           kind: MonitorText.kind(region.kind), residentPages: resident[index]))
        }
        return views
    }

    /// The `vmas` column for `backing`.
    static func backingName(_ backing: RegionBacking) -> String {
        switch backing {
        case .privateAnonymous: return "anon"
        case .shared: return "shmem"
        case .privateFile: return "file"
        case .sharedFile: return "shfile"
        }
    }

    /// Runs every invariant check there is; returns what is wrong (empty: all hold).
    static func checkInvariants() -> [String] {
        var problems: [String] = []
        if let problem = KernelMemory.frames.verifyInvariants() { problems.append("frame allocator: \(problem.text)") }
        if let problem = VMCheck.findViolation() { problems.append(problem) }
        for task in Scheduler.tasks where hasSpace(task) {
            let who = "pid \(task.pid) (\(task.displayName))"
            let regions = task.withSpace { $0.regions }
            let counted = task.withSpace { $0.residentPages }
            for index in regions.indices.dropFirst() where regions[index - 1].end > regions[index].start {
                problems.append("\(who): regions \(index - 1) and \(index) overlap or are out of order")
            }
            var leaves = 0
            var outside = 0
            PageWalk.forEachUserLeaf(cr3: task.cr3, in: 0..<UserMemoryLayout.userEnd.raw) { address, _ in
                leaves += 1
                // The index, not a scan: a space may have 65530 regions.
                let inside = task.withSpace { $0.region(containing: VirtualAddress(address)) } != nil
                if !inside { outside += 1 }
            }
            if outside > 0 { problems.append("\(who): \(outside) page-table leaves outside every region") }
            if leaves != counted { problems.append("\(who): \(leaves) leaves but residentPages is \(counted)") }
        }
        return problems
    }
}

/// What a user page fault led to (Linux's VM_FAULT_* outcomes, by name).
enum FaultOutcome: Int, CaseIterable {
    case demandZero, zeroPage, copyOnWriteCopy, copyOnWriteReuse, shared, file, fileCopy, spurious, sigsegv, sigbus

    /// The counter of a fault the fault path resolved.
    init(_ fix: FaultFix) {
        switch fix {
        case .zeroPage: self = .zeroPage
        case .demandZero: self = .demandZero
        case .copyOnWrite: self = .copyOnWriteCopy
        case .reuse: self = .copyOnWriteReuse
        case .shared: self = .shared
        case .file: self = .file
        case .fileCopy: self = .fileCopy
        case .spurious: self = .spurious
        }
    }

    var name: String {
        switch self {
        case .demandZero: return "demand zero"
        case .zeroPage: return "zero page"
        case .copyOnWriteCopy: return "COW copy"
        case .copyOnWriteReuse: return "COW reuse"
        case .shared: return "shared"
        case .file: return "file"
        case .fileCopy: return "file copy"
        case .spurious: return "spurious"
        case .sigsegv: return "SIGSEGV"
        case .sigbus: return "SIGBUS"
        }
    }
}

/// Counters of page faults by outcome and of fault kills by signal, and the
/// `trace faults` switch. The #PF path (PageFaultEntry.resolve) records
/// every resolved fault; Lifecycle.killForFault the unresolved ones
/// (through FaultReport).
enum FaultStatistics {
    nonisolated(unsafe) static var byOutcome = [Int](repeating: 0, count: FaultOutcome.allCases.count)
    /// Tasks killed for a CPU exception, indexed by signal number.
    nonisolated(unsafe) static var killsBySignal = [Int](repeating: 0, count: maximumSignal + 1)
    nonisolated(unsafe) static var tracing = false
    static let maximumSignal = 31

    /// Counts one page fault of `task` at `address` (error code `errorCode`,
    /// at `rip`) with `outcome`, and traces it when tracing is on.
    static func record(_ outcome: FaultOutcome, task: Task, address: UInt64, errorCode: UInt64, rip: UInt64) {
        byOutcome[outcome.rawValue] += 1
        guard tracing else { return }
        print("trace fault: pid \(task.pid) (\(task.displayName)) at \(MonitorText.hex(address)) error \(MonitorText.hex(errorCode)) rip \(MonitorText.hex(rip)) -> \(outcome.name)")
    }

    /// Counts a kill by `signal` for a CPU exception.
    static func recordKill(signal: UInt32) {
        if signal <= UInt32(maximumSignal) { killsBySignal[Int(signal)] += 1 }
    }
}
