// PageTableCursor: the one way to change a PageTable, moving along a fixed
// virtual range (after Asterinas' `CursorMut`).
//
// Design:
// - ~Copyable, so it cannot be duplicated; created by
//   `PageTable.cursor(over:)`, which validated the range once. Every
//   operation works at `position` and advances it past what it covered.
// - It accumulates the TLB invalidations its operations owe in a
//   PendingFlush; `finish()` consumes the cursor into that PendingFlush,
//   which must then be flushed (or explicitly skipped). Dropping a cursor
//   drops its PendingFlush, which traps.
// - It caches the page table (level 1) under `position` so that mapping a
//   run of 4 KiB pages one by one costs one entry write per page instead of
//   a four-level walk, and a fault's `leaf()` then `map()` or `replace()`
//   walk once between them; a missing table is created on that same walk.
//   The cache is dropped whenever an unmap may free tables.
// - Failures throw `PagingError` and change nothing (the position stays).
//
// Flush rules (SDM §4.10.4.3): creating a leaf where none was present owes
// nothing (the CPU does not cache non-present translations); changing or
// removing a present leaf owes an invalidation of its page, unless the
// change only adds rights (`setLeafProtection`: a stale entry then only
// causes a spurious fault, whose delivery drops it). So parking a leaf
// (PROT_NONE keeping its frame, PageTableEntry.swift) owes one, and
// unparking or removing a parked leaf owes none.
//
// Counting rule: every owning leaf, present or parked, holds one frame
// reference and one map count. `map`, `mapParked`, `replace` and
// `shareLeaves` take them, `unmap` and teardown give them back
// (releaseLeafReference), and `park` and `unpark` move neither.

public struct PageTableCursor<Memory: PhysicalMemory, Frames: FrameProvider>: ~Copyable {
    let tree: PageTableTree<Memory, Frames>
    let linearStart: UInt64
    let linearEnd: UInt64
    var linearPosition: UInt64
    var pending = PendingFlush()
    /// The level-1 table covering [cachedTableStart, cachedTableStart + 2 MiB), if known.
    var cachedPageTable: PhysicalAddress? = nil
    var cachedTableStart: UInt64 = 0

    init(tree: PageTableTree<Memory, Frames>, linearStart: UInt64, linearEnd: UInt64) {
        self.tree = tree
        self.linearStart = linearStart
        self.linearEnd = linearEnd
        self.linearPosition = linearStart
    }

    /// Where the next operation applies.
    public var position: VirtualAddress { LinearAddress.canonical(linearPosition) }
    /// The cursor's range.
    public var range: Range<VirtualAddress> {
        LinearAddress.canonical(linearStart)..<VirtualAddress(LinearAddress.canonical(linearEnd - 1).raw + 1)
    }
    /// The invalidations owed so far (for inspection; `finish` hands them over).
    public var pendingChangedLeaves: Int { pending.changedLeaves }

    /// The mapping covering `position`, or nil.
    public func query() -> Mapping? { tree.mapping(linearPosition) }

    /// Moves to `address`. Throws `.misaligned` or `.outsideCursorRange`.
    public mutating func jump(to address: VirtualAddress) throws(PagingError) {
        guard address.isPageAligned else { throw .misaligned }
        let linear = LinearAddress.linear(address)
        guard LinearAddress.isCanonical(address), linear >= linearStart, linear < linearEnd else {
            throw .outsideCursorRange
        }
        linearPosition = linear
    }

    /// The end of an operation of `length` bytes from `position`, checked
    /// against the cursor's range and `alignment`.
    func operationEnd(length: UInt64, alignment: UInt64) throws(PagingError) -> UInt64 {
        guard length > 0, length % alignment == 0, linearPosition % alignment == 0 else { throw .misaligned }
        guard length <= linearEnd - linearPosition else { throw .outsideCursorRange }
        return linearPosition + length
    }

    // MARK: Map

    /// Maps the 4 KiB page at `position` to `frame` (the page-table entry now
    /// owns that reference, and the frame's map count goes up by one; unmap
    /// or teardown undoes both) and advances.
    /// The reference is consumed in every case: on failure it is released to
    /// the table's FrameProvider. Throws `.alreadyMapped`, `.outOfMemory`,
    /// `.outsideCursorRange`, `.unsupportedProtection`; nothing changes then.
    public mutating func map(_ frame: consuming OwnedFrame, _ protection: PageProtection) throws(PagingError) {
        let physical = frame.address
        do {
            try checkCanMap(physical, length: pageSize, size: .size4KiB, protection)
        } catch {
            tree.frames.releaseFrame(frame)
            throw error
        }
        try mapOwned(frame, PageTableEntry(raw: physical.raw | protection.entryBits | PageTableEntry.ownsFrame
                                           | PageTableEntry.present))
    }

    /// Installs a parked leaf (P=0: PROT_NONE keeping `frame`) at `position`
    /// and advances; it holds the reference and one map count as a present
    /// leaf would (fork's copy of a parked page). Throws as `map` does,
    /// with `frame` released.
    public mutating func mapParked(_ frame: consuming OwnedFrame) throws(PagingError) {
        let physical = frame.address
        do throws(PagingError) {
            guard physical.raw & ~PageTableEntry.tableAddressMask == 0 else { throw .misaligned }
            _ = try operationEnd(length: pageSize, alignment: pageSize)
        } catch {
            tree.frames.releaseFrame(frame)
            throw error
        }
        try mapOwned(frame, .parked(owning: physical))
    }

    /// Writes `leaf` (which encodes `frame`) at `position`, taking the
    /// frame's reference and one map count, and advances; creates the
    /// missing tables first (one walk, or none while the cached page table
    /// covers `position`). Contract: `position` is in range. Throws
    /// `.alreadyMapped` (a present or parked leaf is there) or
    /// `.outOfMemory` with `frame` released and nothing changed.
    private mutating func mapOwned(_ frame: consuming OwnedFrame, _ leaf: PageTableEntry) throws(PagingError) {
        let physical = frame.address
        let table: PhysicalAddress
        do {
            table = try pageTableCreatingMissing()
        } catch {
            tree.frames.releaseFrame(frame)
            throw error
        }
        let index = PagingLevel.pageTable.index(of: linearPosition)
        guard tree.entry(table, index).isEmpty else {
            tree.frames.releaseFrame(frame)
            throw .alreadyMapped
        }
        _ = frame.intoRaw()
        tree.setEntry(table, index, leaf)
        tree.frames.incrementMapCount(physical)
        linearPosition += pageSize
    }

    /// Maps [position, position + length) to the physical range starting at
    /// `physical` with leaves of `size`, without ownership (kernel image,
    /// direct map, MMIO: unmap hands nothing back), and advances.
    /// Throws `.misaligned` (position, physical or length not multiples of
    /// `size`), `.alreadyMapped`, `.outOfMemory`, `.outsideCursorRange`,
    /// `.unsupportedProtection`; nothing changes then.
    public mutating func mapPhysical(_ physical: PhysicalAddress, length: UInt64, size: PageSize,
                                     _ protection: PageProtection) throws(PagingError) {
        try checkCanMap(physical, length: length, size: size, protection)
        try install(physical, length: length, size: size, leafBits: protection.entryBits)
    }

    private func checkCanMap(_ physical: PhysicalAddress, length: UInt64, size: PageSize,
                             _ protection: PageProtection) throws(PagingError) {
        guard protection.isRepresentable else { throw .unsupportedProtection }
        guard physical.raw % size.bytes == 0,
              physical.raw & ~PageTableEntry.tableAddressMask == 0 else { throw .misaligned }
        _ = try operationEnd(length: length, alignment: size.bytes)
    }

    /// The page table (level 1) covering `position`, or nil if the walk
    /// stops above it (a missing entry or a large page). One walk per 2 MiB:
    /// the table is cached until an unmap may free it.
    mutating func pageTable() -> PhysicalAddress? {
        if let table = cachedPageTable, linearPosition &- cachedTableStart < PagingLevel.pageDirectory.entryCoverage {
            return table
        }
        guard let table = tree.findPageTable(linearPosition) else { return nil }
        cachePageTable(table)
        return table
    }

    /// Like `pageTable()`, but creates the missing tables on the way down
    /// (one walk). Throws `.alreadyMapped` if a large page covers
    /// `position`, `.outOfMemory` with nothing changed if a table cannot be
    /// allocated.
    mutating func pageTableCreatingMissing() throws(PagingError) -> PhysicalAddress {
        if let table = pageTable() { return table }
        var table = tree.root
        var level = PagingLevel.pml4
        while let next = level.next {
            let index = level.index(of: linearPosition)
            let found = tree.entry(table, index)
            if !found.isPresent {
                // This entry and every level below it are missing: one
                // table per level down to the page table, reserved first.
                var reserve = try TableReserve(count: level.rawValue - 1, frames: tree.frames, memory: tree.memory)
                var parent = table, parentIndex = index, below: PagingLevel? = next
                while let childLevel = below {
                    let child = reserve.take(memory: tree.memory)
                    tree.setEntry(parent, parentIndex, .link(to: child))
                    parent = child
                    parentIndex = childLevel.index(of: linearPosition)
                    below = childLevel == .pageTable ? nil : childLevel.next
                }
                reserve.releaseAll(to: tree.frames, memory: tree.memory)
                cachePageTable(parent)
                return parent
            }
            if found.isLeaf(at: level) { throw .alreadyMapped }
            table = found.address(at: level)
            level = next
        }
        cachePageTable(table)
        return table
    }

    private mutating func cachePageTable(_ table: PhysicalAddress) {
        cachedPageTable = table
        cachedTableStart = linearPosition & ~(PagingLevel.pageDirectory.entryCoverage - 1)
    }

    /// Counts, reserves, then installs: the only step that can fail is the
    /// reservation, before any entry is written.
    private mutating func install(_ physical: PhysicalAddress, length: UInt64, size: PageSize,
                                  leafBits: UInt64) throws(PagingError) {
        let start = linearPosition, end = linearPosition + length
        let missing = try tree.countMissingTables(tree.root, .pml4, 0, start, end, leafLevel: size.leafLevel)
        var reserve = try TableReserve(count: missing, frames: tree.frames, memory: tree.memory)
        tree.install(tree.root, .pml4, 0, start, end, leafLevel: size.leafLevel,
                     linearOrigin: start, physicalOrigin: physical.raw, leafBits: leafBits, reserve: &reserve)
        reserve.releaseAll(to: tree.frames, memory: tree.memory)
        linearPosition = end
    }

    // MARK: Unmap

    /// Removes every mapping in [position, position + length), present or
    /// parked, hands each owned frame to `release` (the caller decides: free it, or keep it if
    /// it has other users), frees page-table pages left empty, and advances.
    /// Throws `.splitsLargePage` if the range cuts a large page,
    /// `.misaligned`, `.outsideCursorRange`; nothing changes then.
    /// On SMP the frames must not be reused before the flush (single CPU today).
    public mutating func unmap(length: UInt64, releasing release: (consuming OwnedFrame) -> Void) throws(PagingError) {
        let end = try operationEnd(length: length, alignment: pageSize)
        try tree.checkNoLargePageStraddles(linearPosition)
        try tree.checkNoLargePageStraddles(end)
        _ = tree.unmap(tree.root, .pml4, 0, linearPosition, end, pending: &pending, release: release)
        cachedPageTable = nil
        linearPosition = end
    }

    // MARK: Protect

    /// Sets the protection of every mapping in [position, position + length)
    /// (holes stay holes) and advances. Throws `.splitsLargePage`,
    /// `.unsupportedProtection`, `.misaligned`, `.outsideCursorRange`;
    /// nothing changes then.
    public mutating func protect(length: UInt64, _ protection: PageProtection) throws(PagingError) {
        guard protection.isRepresentable else { throw .unsupportedProtection }
        let end = try operationEnd(length: length, alignment: pageSize)
        try tree.checkNoLargePageStraddles(linearPosition)
        try tree.checkNoLargePageStraddles(end)
        tree.protect(tree.root, .pml4, 0, linearPosition, end, protectionBits: protection.entryBits,
                     pending: &pending)
        linearPosition = end
    }

    // MARK: Leaf by leaf

    /// The present 4 KiB leaf at `position`, or nil (no leaf, or a large page).
    /// `mutating` only to remember the page table it walked to.
    public mutating func leaf() -> PageTableEntry? {
        guard let table = pageTable() else { return nil }
        let found = tree.entry(table, PagingLevel.pageTable.index(of: linearPosition))
        return found.isPresent ? found : nil
    }

    /// Replaces the owning 4 KiB leaf at `position` with one mapping `frame`
    /// with `protection` (a copy-on-write break: no table is allocated or
    /// freed, so it cannot fail for lack of memory) and returns the old
    /// leaf's reference, its map count already dropped. Does not advance.
    /// Throws, with nothing changed and `frame` released: `.invalidRange` if
    /// there is no owning 4 KiB leaf at `position`, `.unsupportedProtection`.
    public mutating func replace(with frame: consuming OwnedFrame,
                                 _ protection: PageProtection) throws(PagingError) -> OwnedFrame {
        guard protection.isRepresentable else { tree.frames.releaseFrame(frame); throw .unsupportedProtection }
        let index = PagingLevel.pageTable.index(of: linearPosition)
        guard let table = pageTable(), case let old = tree.entry(table, index), old.isPresent, old.ownsFrame else {
            tree.frames.releaseFrame(frame)
            throw .invalidRange
        }
        let physical = frame.intoRaw()
        tree.setEntry(table, index,
                      PageTableEntry(raw: physical.raw | protection.entryBits | PageTableEntry.ownsFrame
                                     | PageTableEntry.present))
        tree.frames.incrementMapCount(physical)
        pending.recordChangedLeaf(at: position, wasGlobal: old.isGlobal)
        let oldFrame = old.address(at: .pageTable)
        tree.frames.decrementMapCount(oldFrame)
        return OwnedFrame(adopting: oldFrame)
    }

    /// Gives the present 4 KiB leaf at `position` the protection
    /// `protection` (address, ownership, A and D kept) without advancing.
    /// Owes an invalidation only if the new leaf takes a right away: a TLB
    /// entry with fewer rights than the leaf can only cause a spurious
    /// fault, and delivering a #PF drops the faulting page's entries (SDM
    /// §4.10.4.1, §4.10.4.3). Linux's x86 ptep_set_access_flags (a COW reuse,
    /// wp_page_reuse) does not flush either. Throws `.invalidRange` if there
    /// is no present 4 KiB leaf at `position`, `.unsupportedProtection`;
    /// nothing changes then.
    public mutating func setLeafProtection(_ protection: PageProtection) throws(PagingError) {
        guard protection.isRepresentable else { throw .unsupportedProtection }
        let index = PagingLevel.pageTable.index(of: linearPosition)
        guard let table = pageTable(), case let old = tree.entry(table, index), old.isPresent else {
            throw .invalidRange
        }
        let new = PageTableEntry(raw: (old.raw & ~PageTableEntry.protectionBits) | protection.entryBits)
        guard new != old else { return }
        tree.setEntry(table, index, new)
        if !new.grantsEverything(of: old) { pending.recordChangedLeaf(at: position, wasGlobal: old.isGlobal) }
    }

    /// Calls `update(address, entry)` for every present 4 KiB leaf in
    /// [position, position + length) and writes back the entries it changes
    /// (protection bits only), owing their invalidation; then advances.
    /// Throws `.splitsLargePage`, `.misaligned`, `.outsideCursorRange`;
    /// nothing changes then.
    public mutating func updateLeaves(length: UInt64,
                                      _ update: (VirtualAddress, PageTableEntry) -> PageTableEntry) throws(PagingError) {
        let end = try operationEnd(length: length, alignment: pageSize)
        try tree.checkNoLargePageStraddles(linearPosition)
        try tree.checkNoLargePageStraddles(end)
        tree.updateLeaves(tree.root, .pml4, 0, linearPosition, end, pending: &pending, update)
        linearPosition = end
    }

    /// Parks every present 4 KiB leaf in [position, position + length):
    /// P cleared, the frame kept with its reference and map count, each
    /// invalidation owed (Linux change_protection to PAGE_NONE); then
    /// advances. Returns how many it parked. Throws `.splitsLargePage`,
    /// `.misaligned`, `.outsideCursorRange`; nothing changes then.
    /// Contract: the leaves in the range own their frames (user leaves).
    public mutating func park(length: UInt64) throws(PagingError) -> Int {
        let end = try operationEnd(length: length, alignment: pageSize)
        try tree.checkNoLargePageStraddles(linearPosition)
        try tree.checkNoLargePageStraddles(end)
        let parked = tree.park(tree.root, .pml4, 0, linearPosition, end, pending: &pending)
        linearPosition = end
        return parked
    }

    /// Makes every parked leaf in [position, position + length) present
    /// again with `protection(address, frame)` (never allocating: the frame
    /// was kept), owing nothing; then advances. Returns how many it
    /// unparked. Throws `.misaligned`, `.outsideCursorRange`; nothing
    /// changes then. Contract: every protection returned is representable.
    public mutating func unpark(length: UInt64,
                                _ protection: (VirtualAddress, PhysicalAddress) -> PageProtection) throws(PagingError) -> Int {
        let end = try operationEnd(length: length, alignment: pageSize)
        let unparked = tree.unpark(tree.root, .pml4, 0, linearPosition, end, protection)
        linearPosition = end
        return unparked
    }

    /// Owes an invalidation of the page at `position` without changing
    /// anything (a spurious fault on a stale translation).
    public mutating func invalidateStale() {
        pending.recordChangedLeaf(at: position, wasGlobal: false)
    }

    // MARK: Finish

    /// Ends the cursor, handing over the invalidations its operations owe.
    public consuming func finish() -> PendingFlush {
        return pending
    }
}
