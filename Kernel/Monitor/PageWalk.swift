// Reading a page-table hierarchy the way the CPU does, for the monitor and
// the invariant check: raw entries through the direct map, starting at a
// CR3 value. Read-only; it knows nothing of the VM layer's types, so the
// VM rewrite does not touch it.
enum PageWalk {
    /// One step of a walk: the level, the index used and the entry found.
    struct Step {
        let level: PagingLevel
        let index: Int
        let tableAddress: UInt64
        let entry: PageTableEntry
    }

    /// The entry at `index` of the table at physical `table`.
    static func entry(table: UInt64, index: Int) -> PageTableEntry {
        let pointer = KernelLayout.directMap(table + UInt64(index) * 8)
        // SAFETY: `table` is a page-table page (from CR3 or a present link),
        // inside RAM, so the direct map covers it; 8-byte aligned.
        return PageTableEntry(raw: pointer.load(as: UInt64.self))
    }

    /// The steps from the root `cr3` down to the leaf for `address` (or to
    /// the first non-present entry).
    static func steps(cr3: UInt64, address: UInt64) -> [Step] {
        var steps: [Step] = []
        var table = cr3 & PageTableEntry.tableAddressMask
        var level = PagingLevel.pml4
        while true {
            let index = level.index(of: address)
            let found = entry(table: table, index: index)
            steps.append(Step(level: level, index: index, tableAddress: table, entry: found))
            guard found.isPresent, !found.isLeaf(at: level), let next = level.next else { return steps }
            table = found.address(at: level).raw
            level = next
        }
    }

    /// The physical address `address` maps to under `cr3`, or nil.
    static func translate(cr3: UInt64, address: UInt64) -> UInt64? {
        guard let last = steps(cr3: cr3, address: address).last, last.entry.isPresent,
              last.entry.isLeaf(at: last.level) else { return nil }
        return last.entry.address(at: last.level).raw + (address & (last.level.entryCoverage - 1))
    }

    /// Calls `body` with every 4 KiB user leaf (address, entry) in `range`
    /// of the user half, present or parked (PROT_NONE keeping its frame:
    /// resident, as Linux's RSS counts it; `entry.isParked` tells them
    /// apart), skipping absent subtrees whole.
    static func forEachUserLeaf(cr3: UInt64, in range: Range<UInt64>,
                                _ body: (UInt64, PageTableEntry) -> Void) {
        visit(table: cr3 & PageTableEntry.tableAddressMask, level: .pml4, base: 0, range: range, body)
    }

    private static func visit(table: UInt64, level: PagingLevel, base: UInt64, range: Range<UInt64>,
                              _ body: (UInt64, PageTableEntry) -> Void) {
        let coverage = level.entryCoverage
        for index in 0..<PagingLevel.entriesPerTable {
            let start = base + UInt64(index) * coverage
            guard start < range.upperBound else { return }
            guard start + coverage > range.lowerBound else { continue }
            let found = entry(table: table, index: index)
            if level == .pageTable && found.isParked { body(start, found); continue }
            guard found.isPresent else { continue }
            if found.isLeaf(at: level) {
                body(start, found)
            } else if let next = level.next {
                visit(table: found.address(at: level).raw, level: next, base: start, range: range, body)
            }
        }
    }

    /// The flags of `entry` at `level`, decoded: "P W U A D NX G PS own sw=..";
    /// a parked leaf as "parked (PROT_NONE) owns-frame A D".
    static func describeFlags(_ entry: PageTableEntry, at level: PagingLevel) -> String {
        if level == .pageTable && entry.isParked {
            var text = "not present: parked (PROT_NONE)"
            if entry.ownsFrame { text += " owns-frame" }
            if entry.raw & PageTableEntry.accessed != 0 { text += " A" }
            if entry.raw & PageTableEntry.dirty != 0 { text += " D" }
            return text
        }
        guard entry.isPresent else { return entry.isEmpty ? "empty" : "not present (raw \(MonitorText.hex(entry.raw)))" }
        var parts: [String] = ["P"]
        parts.append(entry.isWritable ? "W" : "RO")
        parts.append(entry.isUser ? "U" : "S")
        if entry.raw & PageTableEntry.writeThrough != 0 { parts.append("PWT") }
        if entry.raw & PageTableEntry.cacheDisable != 0 { parts.append("PCD") }
        if entry.raw & PageTableEntry.accessed != 0 { parts.append("A") }
        if entry.isLeaf(at: level) && entry.raw & PageTableEntry.dirty != 0 { parts.append("D") }
        if level.allowsLargePage && entry.hasLargePageBit { parts.append("PS") }
        if entry.isLeaf(at: level) && entry.isGlobal { parts.append("G") }
        if entry.isNoExecute { parts.append("NX") }
        if entry.isLeaf(at: level) && entry.ownsFrame { parts.append("owns-frame") }
        let otherSoftware = entry.raw & softwareBits & ~PageTableEntry.ownsFrame
        if otherSoftware != 0 { parts.append("sw=\(MonitorText.hex(otherSoftware))") }
        var text = ""
        for (index, part) in parts.enumerated() { text += (index == 0 ? "" : " ") + part }
        return text
    }

    /// Bits the SDM leaves to software: 9..11 and 52..58.
    static let softwareBits: UInt64 = (0x7 << 9) | (0x7F << 52)

    static func levelName(_ level: PagingLevel) -> String {
        switch level {
        case .pml4: return "PML4"
        case .pageDirectoryPointer: return "PDPT"
        case .pageDirectory: return "PD"
        case .pageTable: return "PT"
        }
    }
}
