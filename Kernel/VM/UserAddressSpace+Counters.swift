// Keeping the counters exact (invariant 8, MemoryAccounting.swift): the
// region edits that change what is mapped, and the leaf changes that
// change what is resident, each paired with its counter update, as Linux
// pairs vm_stat_account with every VMA change and inc/dec_mm_counter with
// every pte change (mm/mmap.c, mm/memory.c).
//
// Rule for callers: change `regionList` only through these three (or keep
// `counters` right by hand, as fork copies them); create or drop leaves
// only in the fault path, discardPages, fork and teardown, which account
// for them. The checker (VMInvariantChecker.swift, rule "memory counters")
// recounts both after every full check.

extension UserAddressSpace {
    /// Inserts `region` into the regions (merging with its neighbours) and
    /// counts its pages. Contract: as RegionList.insert: nothing overlaps it.
    mutating func commitRegion(_ region: Region) {
        regionList.insert(region)
        counters.addRegion(region)
    }

    /// Removes `range` from the regions and uncounts `pieces`, the parts of
    /// the regions inside it (`regionList.pieces(in: range)`). Pages must
    /// have been discarded first. Contract: `range` is page aligned.
    mutating func removeRegions(_ range: Range<VirtualAddress>, pieces: [Region]) {
        for piece in pieces { counters.addRegion(piece, sign: -1) }
        regionList.remove(range)
    }

    /// Replaces `old` (the pieces of `range`, which regions cover wholly)
    /// with `new` (the same range, in order), merging neighbours, and moves
    /// their pages between the counters (mprotect_fixup: vm_stat_account
    /// of the old flags, negated, then of the new ones).
    mutating func replaceRegions(_ range: Range<VirtualAddress>, old: [Region], with new: [Region]) {
        for piece in old { counters.addRegion(piece, sign: -1) }
        for piece in new { counters.addRegion(piece) }
        regionList.replace(range, with: new)
    }

    /// Uncounts the resident pages `dropped` counted (discardPages, which
    /// counts the frames it releases into a scratch value because the
    /// space is borrowed by the page-table edit while it runs).
    mutating func uncountResident(_ dropped: MemoryCounters) {
        counters.anonymousPages -= dropped.anonymousPages
        counters.filePages -= dropped.filePages
        counters.sharedPages -= dropped.sharedPages
    }
}
