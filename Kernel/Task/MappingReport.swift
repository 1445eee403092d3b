// One-line descriptions of a task's mapping at an address, for kill lines
// (and the monitor): "in [start, end) rw- anonymous" or "no mapping"; and
// of its memory counters and limits.
enum MappingReport {
    /// The space's counters in Linux's OOM-kill words, then data, stack and
    /// the limits: "total-vm:140kB, anon-rss:12kB, file-rss:0kB,
    /// shmem-rss:0kB, data-vm:16kB, stack-vm:128kB, RLIMIT_AS unlimited,
    /// RLIMIT_DATA unlimited" ("no address space" for idle and zombies).
    static func memorySummary(_ task: Task) -> String {
        guard task.space != nil else { return "no address space" }
        let c = task.withSpace { $0.counters }, limits = task.withSpace { $0.limits }
        func kB(_ pages: Int) -> String { "\(UInt64(pages) * pageSize / 1024)kB" }
        func limit(_ bytes: UInt64) -> String { bytes == ResourceLimits.infinity ? "unlimited" : formatSize(bytes) }
        return "total-vm:\(kB(c.totalPages)), anon-rss:\(kB(c.anonymousPages)), file-rss:\(kB(c.filePages)), "
            + "shmem-rss:\(kB(c.sharedPages)), data-vm:\(kB(c.dataPages)), stack-vm:\(kB(c.stackPages)), "
            + "RLIMIT_AS \(limit(limits.addressSpace)), RLIMIT_DATA \(limit(limits.data))"
    }

    /// The mapping of `task` containing `address`, described.
    static func describe(_ task: Task, at address: VirtualAddress) -> String {
        guard task.space != nil, let region = task.space!.region(containing: address) else { return "no mapping" }
        return "in " + describe(region)
    }

    /// "[0x1000, 0x3000) rw- anonymous (heap)"
    static func describe(_ region: Region) -> String {
        let p = region.protection
        let permissions = (p.contains(.read) ? "r" : "-") + (p.contains(.write) ? "w" : "-")
            + (p.contains(.execute) ? "x" : "-")
        var text = "[\(hex(region.start.raw)), \(hex(region.end.raw))) \(permissions) "
        region.backing.name.withUTF8Buffer { text += String(decoding: $0, as: UTF8.self) }
        switch region.kind {
        case .image: text += " (image)"
        case .heap: text += " (heap)"
        case .stack: text += " (stack)"
        case .anonymous: break
        }
        return text
    }
}
