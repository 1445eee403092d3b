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
//   a four-level walk; the cache is dropped whenever an unmap may free tables.
// - Failures throw `PagingError` and change nothing (the position stays).
//
// Flush rules (SDM §4.10.4.3): creating a leaf where none was present owes
// nothing (the CPU does not cache non-present translations); changing or
// removing a present leaf owes an invalidation of its page.

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
        let leafBits = protection.entryBits | PageTableEntry.ownsFrame
        if let table = cachedPageTable, linearPosition &- cachedTableStart < PagingLevel.pageDirectory.entryCoverage {
            let index = PagingLevel.pageTable.index(of: linearPosition)
            if tree.entry(table, index).isPresent {
                tree.frames.releaseFrame(frame)
                throw .alreadyMapped
            }
            tree.setEntry(table, index, PageTableEntry(raw: frame.intoRaw().raw | leafBits | PageTableEntry.present))
            tree.frames.incrementMapCount(physical)
            linearPosition += pageSize
            return
        }
        do {
            try install(physical, length: pageSize, size: .size4KiB, leafBits: leafBits)
        } catch {
            tree.frames.releaseFrame(frame)
            throw error
        }
        _ = frame.intoRaw()
        tree.frames.incrementMapCount(physical)
        let mappedPage = linearPosition - pageSize
        cachedPageTable = tree.findPageTable(mappedPage)
        cachedTableStart = mappedPage & ~(PagingLevel.pageDirectory.entryCoverage - 1)
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

    /// Removes every mapping in [position, position + length), hands each
    /// owned frame to `release` (the caller decides: free it, or keep it if
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
    public func leaf() -> PageTableEntry? {
        guard let found = tree.findLeaf(linearPosition), found.level == .pageTable else { return nil }
        return found.entry
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
        guard let found = tree.findLeaf(linearPosition), found.level == .pageTable, found.entry.ownsFrame else {
            tree.frames.releaseFrame(frame)
            throw .invalidRange
        }
        let physical = frame.intoRaw()
        tree.setEntry(found.table, found.index,
                      PageTableEntry(raw: physical.raw | protection.entryBits | PageTableEntry.ownsFrame
                                     | PageTableEntry.present))
        tree.frames.incrementMapCount(physical)
        pending.recordChangedLeaf(at: position, wasGlobal: found.entry.isGlobal)
        let old = found.entry.address(at: .pageTable)
        tree.frames.decrementMapCount(old)
        return OwnedFrame(adopting: old)
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
