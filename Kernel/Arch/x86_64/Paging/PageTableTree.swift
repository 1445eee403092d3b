// PageTableTree: the recursive walks over one 4-level hierarchy that
// PageTable and PageTableCursor are built from (SDM vol. 3A §4.5).
//
// Design: every range operation is one depth-first walk over the entries
// the range covers, in 48-bit linear addresses (LinearAddress.swift).
// Leaves are 4 KiB PTEs or PS=1 entries in the PD (2 MiB) and PDPT (1 GiB).
//
// Invariants kept by these walks:
// - No page-table page is empty, except the root and the next-level tables
//   of pinned PML4 slots (the kernel half, shared by reference into every
//   user space, so it must outlive its last mapping): unmap frees a table
//   as soon as its last entry goes, and unlinks it from its parent.
// - A 4 KiB leaf with `ownsFrame` holds one frame reference and one map
//   count, present or parked (P=0, PageTableEntry.swift); unmap and
//   teardown drop the map count, then turn the reference back into an
//   OwnedFrame handed to the caller (Linux's order: the reference outlives
//   the mapping). A walk that skips non-present entries must therefore
//   look at parked ones first: they are the only non-zero non-present
//   entries, and only in level-1 tables.
// - Nothing is ever split: callers check with `checkNoLargePageStraddles`
//   before unmap/protect, so a leaf met by those walks lies wholly inside
//   the range.
// - Map walks never allocate: `countMissingTables` sizes a TableReserve first.
//
// Freed page-table pages go back to the FrameProvider before the TLB flush
// (Linux defers them until after it, `tlb_remove_table`): safe on one CPU
// because nothing walks these tables architecturally in between, and the
// forced full flush (TLBFlush.swift) drops whatever a speculative walk cached.

struct PageTableTree<Memory: PhysicalMemory, Frames: FrameProvider> {
    let memory: Memory
    let frames: Frames
    let root: PhysicalAddress
    /// PML4 slots whose next-level table stays even when empty.
    let pinnedSlots: Range<Int>

    private static var entrySize: Int { MemoryLayout<UInt64>.size }

    // MARK: Entries

    /// The entry at `index` of the table at `table`.
    func entry(_ table: PhysicalAddress, _ index: Int) -> PageTableEntry {
        PageTableEntry(raw: memory.pointer(to: table).load(fromByteOffset: index * Self.entrySize, as: UInt64.self))
    }

    /// Writes `entry` at `index` of the table at `table`.
    func setEntry(_ table: PhysicalAddress, _ index: Int, _ entry: PageTableEntry) {
        memory.pointer(to: table).storeBytes(of: entry.raw, toByteOffset: index * Self.entrySize, as: UInt64.self)
    }

    /// True if every entry of the table at `table` is zero.
    func isTableEmpty(_ table: PhysicalAddress) -> Bool {
        let pointer = memory.pointer(to: table)
        for index in 0..<PagingLevel.entriesPerTable
        where pointer.load(fromByteOffset: index * Self.entrySize, as: UInt64.self) != 0 {
            return false
        }
        return true
    }

    /// Returns a page-table page to the frame provider.
    func freeTable(_ table: PhysicalAddress) {
        frames.releaseFrame(OwnedFrame(adopting: table))
    }

    /// The indices of the entries of a table at `level` that [start, end) covers.
    /// Contract: start < end, both inside the table's coverage.
    static func indices(_ level: PagingLevel, _ start: UInt64, _ end: UInt64) -> ClosedRange<Int> {
        level.index(of: start)...level.index(of: end - 1)
    }

    // MARK: Lookup

    /// Where a leaf lives: its table, index, level, entry and first linear address.
    struct LeafLocation {
        let table: PhysicalAddress
        let index: Int
        let level: PagingLevel
        let entry: PageTableEntry
        let linearStart: UInt64
    }

    /// The present leaf translating `linear`, or nil if none does.
    func findLeaf(_ linear: UInt64) -> LeafLocation? {
        var table = root
        var level = PagingLevel.pml4
        while true {
            let index = level.index(of: linear)
            let found = entry(table, index)
            if !found.isPresent { return nil }
            if found.isLeaf(at: level) {
                return LeafLocation(table: table, index: index, level: level, entry: found,
                                    linearStart: linear & ~(level.entryCoverage - 1))
            }
            guard let next = level.next else { return nil }
            table = found.address(at: level)
            level = next
        }
    }

    /// The page table (level 1) covering `linear`, or nil if the walk stops above it.
    func findPageTable(_ linear: UInt64) -> PhysicalAddress? {
        var table = root
        var level = PagingLevel.pml4
        while let next = level.next {
            let found = entry(table, level.index(of: linear))
            if !found.isPresent || found.isLeaf(at: level) { return nil }
            table = found.address(at: level)
            level = next
        }
        return table
    }

    /// The page table (level 1) covering `linear`; or nil and the end of
    /// the coverage of the missing directory entry the walk stopped at, so
    /// that a range walk skips it whole. Contract: no large page there.
    func pageTableOrSkip(_ linear: UInt64) -> (table: PhysicalAddress?, skipTo: UInt64) {
        var table = root
        var level = PagingLevel.pml4
        while let next = level.next {
            let found = entry(table, level.index(of: linear))
            if !found.isPresent {
                return (nil, (linear & ~(level.entryCoverage - 1)) &+ level.entryCoverage)
            }
            precondition(!found.isLeaf(at: level), "a large page in a range of 4 KiB leaves")
            table = found.address(at: level)
            level = next
        }
        return (table, 0)
    }

    /// The mapping covering `linear`, or nil.
    func mapping(_ linear: UInt64) -> Mapping? {
        guard let leaf = findLeaf(linear) else { return nil }
        return Mapping(virtualStart: LinearAddress.canonical(leaf.linearStart),
                       physicalStart: leaf.entry.address(at: leaf.level),
                       size: PageSize(leafAt: leaf.level),
                       protection: PageProtection(leaf: leaf.entry),
                       ownsFrame: leaf.entry.ownsFrame)
    }

    /// Throws `.splitsLargePage` if a 2 MiB or 1 GiB leaf contains both
    /// `linear - 1` and `linear`, i.e. a range boundary at `linear` would cut it.
    func checkNoLargePageStraddles(_ linear: UInt64) throws(PagingError) {
        guard linear != 0, linear != LinearAddress.end, let leaf = findLeaf(linear) else { return }
        if leaf.level != .pageTable && leaf.linearStart != linear { throw .splitsLargePage }
    }

    // MARK: Map

    /// The number of page-table pages mapping [start, end) with leaves at
    /// `leafLevel` needs. Throws `.alreadyMapped` if any part of the range is
    /// mapped. `table` is nil for a table that does not exist yet.
    func countMissingTables(_ table: PhysicalAddress?, _ level: PagingLevel, _ base: UInt64,
                            _ start: UInt64, _ end: UInt64, leafLevel: PagingLevel) throws(PagingError) -> Int {
        var missing = 0
        for index in Self.indices(level, start, end) {
            let found = table.map { entry($0, index) } ?? .empty
            if level == leafLevel {
                if found.isPresent || found.isParked { throw .alreadyMapped }
                continue
            }
            let entryStart = base + UInt64(index) * level.entryCoverage
            var child: PhysicalAddress? = nil
            if found.isPresent {
                if found.isLeaf(at: level) { throw .alreadyMapped }
                child = found.address(at: level)
            } else {
                missing += 1
            }
            missing += try countMissingTables(child, level.next!, entryStart,
                                               max(start, entryStart),
                                               min(end, entryStart + level.entryCoverage),
                                               leafLevel: leafLevel)
        }
        return missing
    }

    /// Installs leaves at `leafLevel` over [start, end): the leaf for linear
    /// address L maps `physicalOrigin + (L - linearOrigin)` with `leafBits`.
    /// Contract: `countMissingTables` succeeded for this range and `reserve`
    /// holds that many pages.
    func install(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                 _ start: UInt64, _ end: UInt64, leafLevel: PagingLevel,
                 linearOrigin: UInt64, physicalOrigin: UInt64, leafBits: UInt64,
                 reserve: inout TableReserve) {
        for index in Self.indices(level, start, end) {
            let entryStart = base + UInt64(index) * level.entryCoverage
            if level == leafLevel {
                let physical = physicalOrigin + (entryStart - linearOrigin)
                let sizeBit = level == .pageTable ? 0 : PageTableEntry.largePage
                setEntry(table, index, PageTableEntry(raw: physical | leafBits | sizeBit | PageTableEntry.present))
                continue
            }
            let found = entry(table, index)
            let child: PhysicalAddress
            if found.isPresent {
                child = found.address(at: level)
            } else {
                child = reserve.take(memory: memory)
                setEntry(table, index, .link(to: child))
            }
            install(child, level.next!, entryStart, max(start, entryStart),
                    min(end, entryStart + level.entryCoverage), leafLevel: leafLevel,
                    linearOrigin: linearOrigin, physicalOrigin: physicalOrigin, leafBits: leafBits,
                    reserve: &reserve)
        }
    }

    // MARK: Unmap

    /// Clears every leaf in [start, end), present or parked, handing owned
    /// frames to `release`, and frees the tables that become empty (a
    /// parked leaf owes no invalidation: no TLB holds a P=0 translation). Returns true if the table at
    /// `table` itself became empty (the caller frees it).
    /// Contract: no large leaf straddles `start` or `end`.
    func unmap(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
               _ start: UInt64, _ end: UInt64, pending: inout PendingFlush,
               release: (consuming OwnedFrame) -> Void) -> Bool {
        var changed = false
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            if found.isParked {
                setEntry(table, index, .empty)
                changed = true
                releaseLeafReference(found.address(at: level), release)
                continue
            }
            if !found.isPresent { continue }
            let entryStart = base + UInt64(index) * level.entryCoverage
            if found.isLeaf(at: level) {
                setEntry(table, index, .empty)
                changed = true
                pending.recordChangedLeaf(at: LinearAddress.canonical(entryStart), wasGlobal: found.isGlobal)
                if found.ownsFrame { releaseLeafReference(found.address(at: level), release) }
                continue
            }
            let child = found.address(at: level)
            let childBecameEmpty = unmap(child, level.next!, entryStart, max(start, entryStart),
                                         min(end, entryStart + level.entryCoverage),
                                         pending: &pending, release: release)
            let childIsPinned = level == .pml4 && pinnedSlots.contains(index)
            if childBecameEmpty && !childIsPinned {
                setEntry(table, index, .empty)
                freeTable(child)
                pending.recordFreedTable()
                changed = true
            }
        }
        return changed && level != .pml4 && isTableEmpty(table)
    }

    // MARK: Protect

    /// Replaces the protection bits of every present leaf in [start, end)
    /// with `protectionBits`, keeping address, A, D, PS, PAT and ownership
    /// (parked leaves stay parked).
    /// Contract: no large leaf straddles `start` or `end`.
    func protect(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                 _ start: UInt64, _ end: UInt64, protectionBits: UInt64, pending: inout PendingFlush) {
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            if !found.isPresent { continue }
            let entryStart = base + UInt64(index) * level.entryCoverage
            if found.isLeaf(at: level) {
                let updated = PageTableEntry(raw: (found.raw & ~PageTableEntry.protectionBits) | protectionBits)
                if updated != found {
                    setEntry(table, index, updated)
                    pending.recordChangedLeaf(at: LinearAddress.canonical(entryStart), wasGlobal: found.isGlobal)
                }
                continue
            }
            protect(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                    min(end, entryStart + level.entryCoverage), protectionBits: protectionBits,
                    pending: &pending)
        }
    }

    // MARK: Leaf-by-leaf updates

    /// Calls `visit` for every present leaf in [start, end), and every
    /// parked one too if `includingParked`, in order.
    func visitLeaves(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                     _ start: UInt64, _ end: UInt64, includingParked: Bool,
                     _ visit: (VirtualAddress, PageTableEntry) -> Void) {
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            let entryStart = base + UInt64(index) * level.entryCoverage
            if found.isParked {
                if includingParked { visit(LinearAddress.canonical(entryStart), found) }
                continue
            }
            if !found.isPresent { continue }
            if found.isLeaf(at: level) {
                visit(LinearAddress.canonical(entryStart), found)
                continue
            }
            visitLeaves(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                        min(end, entryStart + level.entryCoverage), includingParked: includingParked, visit)
        }
    }

    /// Calls `update(address, entry)` for every present 4 KiB leaf in
    /// [start, end) in address order and writes back what it returns when
    /// that differs, recording the invalidation. `update` may change only
    /// protection and software bits, never the address or `ownsFrame`.
    /// Contract: no large leaf lies in the range.
    func updateLeaves(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                      _ start: UInt64, _ end: UInt64, pending: inout PendingFlush,
                      _ update: (VirtualAddress, PageTableEntry) -> PageTableEntry) {
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            if !found.isPresent { continue }
            let entryStart = base + UInt64(index) * level.entryCoverage
            if level == .pageTable {
                let address = LinearAddress.canonical(entryStart)
                let updated = update(address, found)
                precondition(updated.address(at: .pageTable) == found.address(at: .pageTable)
                             && updated.ownsFrame == found.ownsFrame && updated.isPresent,
                             "updateLeaves: an update may only change protection bits")
                if updated != found {
                    setEntry(table, index, updated)
                    pending.recordChangedLeaf(at: address, wasGlobal: found.isGlobal)
                }
                continue
            }
            precondition(!found.isLeaf(at: level), "updateLeaves: a large page in the range")
            updateLeaves(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                         min(end, entryStart + level.entryCoverage), pending: &pending, update)
        }
    }

    // MARK: Parking (PROT_NONE keeping its frames)

    /// Parks every present 4 KiB leaf in [start, end) (P cleared, the frame,
    /// its reference and its map count kept: PageTableEntry.parkedLeaf),
    /// recording each invalidation. Returns how many it parked.
    /// Contract: no large leaf lies in the range; every leaf owns its frame.
    func park(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
              _ start: UInt64, _ end: UInt64, pending: inout PendingFlush) -> Int {
        var parked = 0
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            if !found.isPresent { continue }
            let entryStart = base + UInt64(index) * level.entryCoverage
            if level == .pageTable {
                precondition(found.ownsFrame, "park: a leaf that owns no frame")
                setEntry(table, index, found.parkedLeaf)
                pending.recordChangedLeaf(at: LinearAddress.canonical(entryStart), wasGlobal: found.isGlobal)
                parked += 1
                continue
            }
            precondition(!found.isLeaf(at: level), "park: a large page in the range")
            parked += park(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                           min(end, entryStart + level.entryCoverage), pending: &pending)
        }
        return parked
    }

    /// Makes every parked leaf in [start, end) present again with
    /// `protection(address, frame)`, in address order; nothing is owed to
    /// the TLB (SDM §4.10.4.3: at worst one spurious fault, which the
    /// fault path resolves). Returns how many it unparked.
    /// Contract: every protection is representable.
    func unpark(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                _ start: UInt64, _ end: UInt64,
                _ protection: (VirtualAddress, PhysicalAddress) -> PageProtection) -> Int {
        var unparked = 0
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            let entryStart = base + UInt64(index) * level.entryCoverage
            if found.isParked {
                let chosen = protection(LinearAddress.canonical(entryStart), found.address(at: .pageTable))
                precondition(chosen.isRepresentable, "unpark: an unrepresentable protection")
                setEntry(table, index, found.unparked(chosen))
                unparked += 1
                continue
            }
            if !found.isPresent || found.isLeaf(at: level) { continue }
            unparked += unpark(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                               min(end, entryStart + level.entryCoverage), protection)
        }
        return unparked
    }

    /// Drops the map count of an owning leaf's frame, then hands its
    /// reference to `release` (the order of Linux's zap_pte_range).
    func releaseLeafReference(_ frame: PhysicalAddress, _ release: (consuming OwnedFrame) -> Void) {
        frames.decrementMapCount(frame)
        release(OwnedFrame(adopting: frame))
    }

    // MARK: Teardown

    /// Frees every table below entry `index`..., handing owned frames to
    /// `release` (parked leaves' too): the whole subtree under the
    /// (non-leaf) entry `found` at `level`.
    func freeSubtree(of found: PageTableEntry, at level: PagingLevel,
                     release: (consuming OwnedFrame) -> Void) {
        let table = found.address(at: level)
        let childLevel = level.next!
        for index in 0..<PagingLevel.entriesPerTable {
            let child = entry(table, index)
            if child.isParked {
                releaseLeafReference(child.address(at: childLevel), release)
                continue
            }
            if !child.isPresent { continue }
            if child.isLeaf(at: childLevel) {
                if child.ownsFrame { releaseLeafReference(child.address(at: childLevel), release) }
            } else {
                freeSubtree(of: child, at: childLevel, release: release)
            }
        }
        freeTable(table)
    }

    /// Frees every leaf (present or parked) and table reachable from `table`
    /// (at `level`, covering from `base`) through an entry whose coverage
    /// meets one of `ranges[first...]`, handing owned frames straight back to `frames`
    /// (FrameProvider.releaseLeafReference: one call per leaf, no closure).
    /// Does not free `table` itself. Contract: `ranges` sorted, disjoint,
    /// linear; see PageTable.tearDown(mappedWithin:).
    func freeCovered(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                     _ ranges: [Range<UInt64>], from first: Int) {
        let tableEnd = base &+ level.entryCoverage &* UInt64(PagingLevel.entriesPerTable)
        let pointer = memory.pointer(to: table)
        var nextIndex = 0
        var rangeIndex = first
        while rangeIndex < ranges.count, ranges[rangeIndex].lowerBound < tableEnd {
            let range = ranges[rangeIndex]
            let start = Swift.max(range.lowerBound, base), end = Swift.min(range.upperBound, tableEnd)
            if start < end {
                let firstIndex = Swift.max(level.index(of: start), nextIndex)
                let lastIndex = level.index(of: end - 1)
                if firstIndex <= lastIndex {
                    for index in firstIndex...lastIndex {
                        let found = PageTableEntry(raw: pointer.load(fromByteOffset: index &* Self.entrySize,
                                                                     as: UInt64.self))
                        if found.isParked {
                            // A PROT_NONE page keeps its reference (PageTableEntry.swift).
                            frames.releaseLeafReference(found.address(at: level))
                            continue
                        }
                        if !found.isPresent { continue }
                        if found.isLeaf(at: level) {
                            if found.ownsFrame { frames.releaseLeafReference(found.address(at: level)) }
                            continue
                        }
                        let child = found.address(at: level)
                        freeCovered(child, level.next!, base &+ UInt64(index) &* level.entryCoverage, ranges,
                                    from: rangeIndex)
                        freeTable(child)
                    }
                    nextIndex = lastIndex + 1
                }
            }
            // A range running past this table goes on in the next one.
            if range.upperBound > tableEnd { break }
            rangeIndex += 1
        }
    }
}
