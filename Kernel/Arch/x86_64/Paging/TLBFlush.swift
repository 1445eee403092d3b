// PendingFlush: the TLB invalidations a page-table operation still owes.
//
// Design: every operation that changes or removes a present entry returns
// (through PageTableCursor.finish) a ~Copyable PendingFlush. Dropping it
// traps, so a forgotten flush is a crash in the first test that exercises
// the path rather than a silent stale translation. It is consumed by:
// - `flush(using:)`: invlpg for each changed page while there are at most
//   `invalidatePageLimit` of them, otherwise one full flush. The limit
//   follows Linux's `tlb_single_page_flush_ceiling` (33): beyond a few dozen
//   pages one CR3 reload is cheaper than the invlpgs and the refills.
// - `skipBecauseSpaceIsNotLoaded()`: for an address space no CPU has in CR3
//   (and, without PCID, none has TLB entries for since its last CR3 load):
//   its TLB entries are already gone, so nothing is owed.
//
// A full flush is forced when a page-table page was freed: the CPU's
// paging-structure caches may still point at the freed frame, and because
// the frame is released before the flush (single CPU, see PageTable.swift)
// a speculative walk may cache translations for addresses that were never
// in the invalidation list. A CR3 reload drops those too (SDM §4.10.4.1).
// Global entries survive a CR3 reload, so when a changed leaf was global the
// full flush includes global entries.

@frozen
public struct PendingFlush: ~Copyable {
    /// Pages up to which single-page invalidation is used.
    public static let invalidatePageLimit = 32

    @usableFromInline var pages: InlineArray<32, UInt64>
    /// Changed leaves recorded (may exceed the array, then a full flush is due).
    @usableFromInline var changedLeafCount: Int
    @usableFromInline var forceFullFlush: Bool
    @usableFromInline var touchedGlobalEntry: Bool

    /// Nothing owed yet.
    public init() {
        pages = InlineArray(repeating: 0)
        changedLeafCount = 0
        forceFullFlush = false
        touchedGlobalEntry = false
    }

    /// True if flushing would do nothing.
    public var isEmpty: Bool { changedLeafCount == 0 && !forceFullFlush }
    /// True if `flush(using:)` will do one full flush instead of invlpgs.
    public var needsFullFlush: Bool { forceFullFlush || changedLeafCount > Self.invalidatePageLimit }
    /// The number of changed leaves recorded.
    public var changedLeaves: Int { changedLeafCount }

    /// Records that the present leaf mapping `address` (any page size) was
    /// changed or removed; `wasGlobal` if the old entry had G set.
    public mutating func recordChangedLeaf(at address: VirtualAddress, wasGlobal: Bool) {
        if changedLeafCount < Self.invalidatePageLimit { pages[changedLeafCount] = address.raw }
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
        } else {
            for index in 0..<changedLeafCount { tlb.invalidatePage(VirtualAddress(pages[index])) }
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
