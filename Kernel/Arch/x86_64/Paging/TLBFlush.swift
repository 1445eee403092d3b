// PendingFlush: the TLB invalidations a page-table operation still owes.
//
// Design: every operation that changes or removes a present entry returns
// (through PageTableCursor.finish) a ~Copyable PendingFlush. Dropping it
// traps, so a forgotten flush is a crash in the first test that exercises
// the path rather than a silent stale translation. It records the range
// of pages whose leaves changed, as Linux's mmu_gather does (tlb->start,
// tlb->end: the lowest and highest changed address), not a list: a few
// words to create, copy and test on every fault, where a list of 32 pages
// cost more to clear than the fault it served. It is consumed by:
// - `flush(using:)`: invlpg for each page of the range while it spans at
//   most `invalidatePageLimit` pages, otherwise one full flush. The limit
//   follows Linux's `tlb_single_page_flush_ceiling` (33) in
//   flush_tlb_mm_range: beyond a few dozen pages one CR3 reload is cheaper
//   than the invlpgs and the refills. Pages of the range whose leaves did
//   not change are invalidated too, which is harmless (Linux does the same).
// - `skipBecauseSpaceIsNotLoaded()`: for an address space no CPU has in CR3
//   (and, without PCID, none has TLB entries for since its last CR3 load):
//   its TLB entries are already gone, so nothing is owed.
//
// A full flush is forced when a page-table page was freed: the CPU's
// paging-structure caches may still point at the freed frame, and because
// the frame is released before the flush (single CPU, see PageTable.swift)
// a speculative walk may cache translations for addresses that were never
// in the invalidation range. A CR3 reload drops those too (SDM §4.10.4.1).
// Global entries survive a CR3 reload, so when a changed leaf was global the
// full flush includes global entries. A large leaf is recorded by its first
// page: invlpg of any address in it drops the whole entry.

@frozen
public struct PendingFlush: ~Copyable {
    /// Pages up to which single-page invalidation is used.
    public static let invalidatePageLimit = 32

    /// The first changed page, and the end of the last one (both 0 while
    /// nothing changed): canonical addresses of one half.
    @usableFromInline var rangeStart: UInt64
    @usableFromInline var rangeEnd: UInt64
    /// Changed leaves recorded.
    @usableFromInline var changedLeafCount: Int
    @usableFromInline var forceFullFlush: Bool
    @usableFromInline var touchedGlobalEntry: Bool

    /// Nothing owed yet.
    public init() {
        rangeStart = 0
        rangeEnd = 0
        changedLeafCount = 0
        forceFullFlush = false
        touchedGlobalEntry = false
    }

    /// True if flushing would do nothing.
    public var isEmpty: Bool { changedLeafCount == 0 && !forceFullFlush }
    /// The pages single-page invalidation would cover.
    var pagesInRange: UInt64 { (rangeEnd &- rangeStart) >> pageShift }
    /// True if `flush(using:)` will do one full flush instead of invlpgs.
    public var needsFullFlush: Bool { forceFullFlush || pagesInRange > UInt64(Self.invalidatePageLimit) }
    /// The number of changed leaves recorded.
    public var changedLeaves: Int { changedLeafCount }

    /// Records that the present leaf mapping `address` (any page size) was
    /// changed or removed; `wasGlobal` if the old entry had G set.
    public mutating func recordChangedLeaf(at address: VirtualAddress, wasGlobal: Bool) {
        let page = address.raw & ~(pageSize - 1)
        if changedLeafCount == 0 {
            rangeStart = page
            rangeEnd = page &+ pageSize
        } else {
            if page < rangeStart { rangeStart = page }
            if page &+ pageSize > rangeEnd { rangeEnd = page &+ pageSize }
        }
        changedLeafCount += 1
        if wasGlobal { touchedGlobalEntry = true }
    }

    /// Records that a page-table page was unlinked and freed.
    public mutating func recordFreedTable() { forceFullFlush = true }

    /// Performs the invalidations on the CPU (or fake MMU) `tlb`.
    /// Contract: the address space the operations changed is the one loaded
    /// on that CPU.
    public consuming func flush(using tlb: some TLBControl) {
        if needsFullFlush {
            tlb.flushAll(includingGlobal: touchedGlobalEntry)
        } else if changedLeafCount > 0 {
            var page = rangeStart
            while page != rangeEnd {
                tlb.invalidatePage(VirtualAddress(page))
                page &+= pageSize
            }
        }
        discard self
    }

    /// Discards the owed invalidations. Contract: the changed address space
    /// is not loaded in CR3 on any CPU and has no TLB entries left from an
    /// earlier load (true without PCID: loading another CR3 dropped them),
    /// and no changed leaf was global.
    public consuming func skipBecauseSpaceIsNotLoaded() {
        discard self
    }

    deinit {
        fatalError("pending TLB flush dropped")
    }
}
