// One-line descriptions of a task's mapping at an address, for kill lines
// (and the monitor): "in [start, end) rw- anonymous" or "no mapping".
enum MappingReport {
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
