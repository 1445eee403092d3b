// PageTableTree moves: the entries of one linear range moved to another
// range of the same hierarchy, frames untouched (Linux mm/mremap.c
// move_page_tables, move_ptes and move_normal_pmd; the walk behind
// PageTableCursor.move).
//
// Design: two walks over the source that make the same decisions:
// 1. `hasEntries` checks that the destination holds nothing at all; then
//    `planMove` only reads. It checks every destination slot it will write
//    (defensively: an empty table in the way would leak) and counts the
//    page-table pages the destination lacks, exactly: the destination
//    addresses rise with the source walk, so a missing table is counted
//    once by remembering the last one counted at each level. The caller
//    reserves that many (TableReserve), so the move cannot fail.
// 2. `move` writes. Per source page table (one 2 MiB PD entry):
//    - whole: when the distance is a multiple of 2 MiB and the table's full
//      2 MiB lies inside the source (or the table holds nothing else, see
//      `movesWholeTable`), the PD entry itself moves, table and all
//      (move_normal_pmd): one write for 512 pages. The TLB is owed a
//      full flush (the unlinked entry may sit in the paging-structure caches,
//      SDM §4.10.3), recorded as for a freed table;
//    - entry by entry otherwise (move_ptes): each non-empty 4 KiB entry is
//      copied raw (frame, rights, A/D, ownership, software bits) to its new
//      slot and cleared at the old one; a present one owes an invalidation.
// 3. `pruneEmptyTables` then frees the source's tables left empty. Not
//    during the move: a source table emptied early may still receive
//    destination entries later (a move to a lower address within one 2 MiB),
//    and the plan counted it as existing.
//
// Invariants kept: every frame keeps its reference and its map count (a
// leaf moves, it is neither unmapped nor mapped again); no table is left
// empty; the destination's slots were empty, so nothing is overwritten.
// Not supported: large leaves in the source (user spaces have none): the
// plan throws `.splitsLargePage` before any change.

extension PageTableTree {
    /// What `planMove` has counted: the key of the last missing table
    /// counted per level (the destination address shifted by the parent
    /// level's shift), so that each missing table counts once.
    struct MovePlan {
        var missingTables = 0
        /// Indexed by the parent level's raw value (PML4 = 4 ... PD = 2).
        var lastCounted: InlineArray<5, UInt64> = InlineArray(repeating: .max)
        /// The destination page table of the last 2 MiB chunk planned (nil:
        /// it will be created), so a run of entries costs one walk per chunk.
        var cachedChunk: UInt64 = .max
        var cachedTable: PhysicalAddress? = nil
    }

    /// True if the source page table `pageTable`, under the PD entry that
    /// starts at `entryStart`, moves whole: the distance keeps 2 MiB
    /// alignment, and
    /// - its 2 MiB lie in [start, end); or
    /// - only its entries inside [start, end) are non-empty, the
    ///   destination's PD slot is empty (no neighbour of the destination
    ///   shares its 2 MiB), and neither this chunk nor its destination is
    ///   the destination or the source of another chunk of the move (so no
    ///   entry moved earlier lands in it, and the decision is the same in
    ///   both passes). The edges of a misaligned range then move with their
    ///   table as well (Linux 6.7 try_realign_addr's idea; 6.1 moves them
    ///   entry by entry).
    func movesWholeTable(_ pageTable: PhysicalAddress, _ entryStart: UInt64, _ start: UInt64, _ end: UInt64,
                         delta: UInt64) -> Bool {
        let coverage = PagingLevel.pageDirectory.entryCoverage
        guard delta & (coverage - 1) == 0 else { return false }
        if entryStart >= start && entryStart + coverage <= end { return true }
        let firstChunk = start & ~(coverage - 1), endChunk = (end + coverage - 1) & ~(coverage - 1)
        let destination = entryStart &+ delta, origin = entryStart &- delta
        if destination >= firstChunk && destination < endChunk { return false }
        if origin >= firstChunk && origin < endChunk { return false }
        let inside = PagingLevel.pageTable.index(of: max(start, entryStart))
            ... PagingLevel.pageTable.index(of: min(end, entryStart + coverage) - 1)
        for index in 0..<PagingLevel.entriesPerTable where !inside.contains(index) {
            if !entry(pageTable, index).isEmpty { return false }
        }
        return destinationSlotIsEmpty(destination)
    }

    /// True if nothing occupies the PD slot of `destination` (read only).
    func destinationSlotIsEmpty(_ destination: UInt64) -> Bool {
        var table = root
        var level = PagingLevel.pml4
        while level > .pageDirectory {
            let found = entry(table, level.index(of: destination))
            if !found.isPresent { return true }
            if found.isLeaf(at: level) { return false }
            table = found.address(at: level)
            level = level.next!
        }
        return entry(table, PagingLevel.pageDirectory.index(of: destination)).isEmpty
    }

    /// The table at `slotLevel` that holds the slot of `destination`, or
    /// nil if it is missing; counts the tables missing on the way into
    /// `plan`. Throws `.alreadyMapped` if a large leaf covers the slot.
    func planTable(_ destination: UInt64, at slotLevel: PagingLevel,
                   _ plan: inout MovePlan) throws(PagingError) -> PhysicalAddress? {
        var table: PhysicalAddress? = root
        var level = PagingLevel.pml4
        while level > slotLevel {
            let key = destination >> level.shift
            if let current = table {
                let found = entry(current, level.index(of: destination))
                if found.isPresent {
                    if found.isLeaf(at: level) { throw .alreadyMapped }
                    table = found.address(at: level)
                } else {
                    table = nil
                }
            }
            if table == nil && plan.lastCounted[level.rawValue] != key {
                plan.lastCounted[level.rawValue] = key
                plan.missingTables += 1
            }
            level = level.next!
        }
        return table
    }

    /// Throws `.alreadyMapped` unless the slot at `slotLevel` for
    /// `destination` in `table` (nil: a table still to be created) is empty.
    func checkSlotIsEmpty(_ table: PhysicalAddress?, _ destination: UInt64,
                          at slotLevel: PagingLevel) throws(PagingError) {
        if let table, !entry(table, slotLevel.index(of: destination)).isEmpty { throw .alreadyMapped }
    }

    /// The read-only pass (see the header): checks every destination slot
    /// of the entries of [start, end) and counts the missing tables.
    /// Contract: [start, end) and [start + delta, end + delta) are disjoint,
    /// page aligned, and lie in this table's owned slots.
    func planMove(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64, _ start: UInt64, _ end: UInt64,
                  delta: UInt64, _ plan: inout MovePlan) throws(PagingError) {
        if level == .pageTable {
            try planEntries(table, base, start, end, delta: delta, &plan)
            return
        }
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            let entryStart = base + UInt64(index) * level.entryCoverage
            if !found.isPresent { continue }
            if found.isLeaf(at: level) { throw .splitsLargePage }
            if level == .pageDirectory && movesWholeTable(found.address(at: level), entryStart, start, end, delta: delta) {
                let destination = entryStart &+ delta
                try checkSlotIsEmpty(try planTable(destination, at: .pageDirectory, &plan), destination,
                                     at: .pageDirectory)
                continue
            }
            try planMove(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                         min(end, entryStart + level.entryCoverage), delta: delta, &plan)
        }
    }

    /// `planMove` on one page table. The destination is known to be empty
    /// (`hasEntries`), so only the tables it lacks matter: once a 2 MiB
    /// chunk of the destination is planned, the entries that land in it are
    /// skipped (this loop and `moveEntries` are the cost of a misaligned move).
    func planEntries(_ table: PhysicalAddress, _ base: UInt64, _ start: UInt64, _ end: UInt64,
                     delta: UInt64, _ plan: inout MovePlan) throws(PagingError) {
        let entries = memory.pointer(to: table)
        let chunkBytes = PagingLevel.pageDirectory.entryCoverage
        let last = PagingLevel.pageTable.index(of: end - 1)
        var index = PagingLevel.pageTable.index(of: start)
        while index <= last {
            // SAFETY: a page table is one frame of 512 entries, reached through the physical window.
            if entries.load(fromByteOffset: index &* Self.entryBytes, as: UInt64.self) == 0 {
                index += 1
                continue
            }
            let destination = (base &+ UInt64(index) &* pageSize) &+ delta
            let chunk = destination >> PagingLevel.pageDirectory.shift
            if chunk != plan.cachedChunk {
                plan.cachedChunk = chunk
                plan.cachedTable = try planTable(destination, at: .pageTable, &plan)
            }
            try checkSlotIsEmpty(plan.cachedTable, destination, at: .pageTable)
            // The first entry whose destination lies in the next chunk.
            let nextChunk = (chunk &+ 1) &* chunkBytes
            index += Int((nextChunk &- destination) / pageSize)
        }
    }

    /// The size of one entry, in bytes.
    static var entryBytes: Int { MemoryLayout<UInt64>.size }

    /// The table at `slotLevel` holding the slot of `destination`, created
    /// (from `reserve`) with every missing table above it.
    /// Contract: `planMove` counted these tables into `reserve`.
    func tableForSlot(_ destination: UInt64, at slotLevel: PagingLevel,
                      reserve: inout TableReserve) -> PhysicalAddress {
        var table = root
        var level = PagingLevel.pml4
        while level > slotLevel {
            let index = level.index(of: destination)
            let found = entry(table, index)
            if found.isPresent {
                table = found.address(at: level)
            } else {
                let child = reserve.take(memory: memory)
                setEntry(table, index, .link(to: child))
                table = child
            }
            level = level.next!
        }
        return table
    }

    /// The last destination page table written by `move`, so that a run of
    /// entries costs one table walk per 2 MiB.
    struct MoveCursor {
        var chunk: UInt64 = .max
        var entries: UnsafeMutableRawPointer? = nil
    }

    /// `move` on one page table (as `planEntries`: one pointer per table).
    func moveEntries(_ table: PhysicalAddress, _ base: UInt64, _ start: UInt64, _ end: UInt64, delta: UInt64,
                     reserve: inout TableReserve, target: inout MoveCursor, pending: inout PendingFlush) {
        let entries = memory.pointer(to: table)
        for index in Self.indices(.pageTable, start, end) {
            // SAFETY: both tables are whole frames of 512 entries, reached through the physical window.
            let raw = entries.load(fromByteOffset: index &* Self.entryBytes, as: UInt64.self)
            if raw == 0 { continue }
            let entryStart = base + UInt64(index) * pageSize
            let destination = entryStart &+ delta
            let chunk = destination >> PagingLevel.pageDirectory.shift
            if chunk != target.chunk || target.entries == nil {
                target.chunk = chunk
                target.entries = memory.pointer(to: tableForSlot(destination, at: .pageTable, reserve: &reserve))
            }
            target.entries!.storeBytes(of: raw, toByteOffset: PagingLevel.pageTable.index(of: destination) &* Self.entryBytes,
                                       as: UInt64.self)
            entries.storeBytes(of: 0, toByteOffset: index &* Self.entryBytes, as: UInt64.self)
            if raw & PageTableEntry.present != 0 {
                pending.recordChangedLeaf(at: LinearAddress.canonical(entryStart),
                                          wasGlobal: raw & PageTableEntry.global != 0)
            }
        }
    }

    /// The writing pass (see the header). Contract: `planMove` succeeded for
    /// the same range and `reserve` holds what it counted.
    func move(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64, _ start: UInt64, _ end: UInt64,
              delta: UInt64, reserve: inout TableReserve, target: inout MoveCursor, pending: inout PendingFlush) {
        if level == .pageTable {
            moveEntries(table, base, start, end, delta: delta, reserve: &reserve, target: &target, pending: &pending)
            return
        }
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            let entryStart = base + UInt64(index) * level.entryCoverage
            if !found.isPresent { continue }
            if level == .pageDirectory && movesWholeTable(found.address(at: level), entryStart, start, end, delta: delta) {
                let destination = entryStart &+ delta
                let parent = tableForSlot(destination, at: .pageDirectory, reserve: &reserve)
                setEntry(parent, PagingLevel.pageDirectory.index(of: destination), found)
                setEntry(table, index, .empty)
                pending.recordFreedTable()  // unlinked from here: full flush (see the header)
                continue
            }
            move(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                 min(end, entryStart + level.entryCoverage), delta: delta, reserve: &reserve,
                 target: &target, pending: &pending)
        }
    }

    /// True if any leaf entry (present, or non-empty at the page-table
    /// level) lies in [start, end): a move's destination must have none.
    func hasEntries(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                    _ start: UInt64, _ end: UInt64) -> Bool {
        if level == .pageTable {
            let entries = memory.pointer(to: table)
            for index in Self.indices(.pageTable, start, end)
            // SAFETY: a page table is one frame of 512 entries, reached through the physical window.
            where entries.load(fromByteOffset: index &* Self.entryBytes, as: UInt64.self) != 0 {
                return true
            }
            return false
        }
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            if !found.isPresent { continue }
            if found.isLeaf(at: level) { return true }
            let entryStart = base + UInt64(index) * level.entryCoverage
            if hasEntries(found.address(at: level), level.next!, entryStart, max(start, entryStart),
                          min(end, entryStart + level.entryCoverage)) { return true }
        }
        return false
    }

    /// Frees every table under [start, end) that holds no entry, unlinking
    /// it from its parent (the tables a move emptied). Pinned PML4 slots
    /// keep their table. Returns nothing: the root is never freed.
    func pruneEmptyTables(_ table: PhysicalAddress, _ level: PagingLevel, _ base: UInt64,
                          _ start: UInt64, _ end: UInt64, pending: inout PendingFlush) {
        guard level > .pageTable else { return }
        for index in Self.indices(level, start, end) {
            let found = entry(table, index)
            if !found.isPresent || found.isLeaf(at: level) { continue }
            let entryStart = base + UInt64(index) * level.entryCoverage
            let child = found.address(at: level)
            pruneEmptyTables(child, level.next!, entryStart, max(start, entryStart),
                             min(end, entryStart + level.entryCoverage), pending: &pending)
            let childIsPinned = level == .pml4 && pinnedSlots.contains(index)
            if !childIsPinned && isTableEmpty(child) {
                setEntry(table, index, .empty)
                freeTable(child)
                pending.recordFreedTable()
            }
        }
    }
}
