// PageTableCursor.move: the entries of one range moved to another range of
// the same table, the frames themselves untouched (mremap; Linux
// mm/mremap.c move_page_tables). The walks are in PageTableTree+Move.swift.

extension PageTableCursor {
    /// Moves every entry of [position, position + length) to the same offset
    /// from `destination` and advances past the source. Each frame stays
    /// mapped exactly once, so its reference and map count do not change;
    /// entries keep their rights, A/D and software bits. The source's
    /// present entries owe their invalidation (a whole moved page table
    /// owes a full flush); the destination's slots were empty, so they owe
    /// nothing. Page-table pages the source no longer needs are freed.
    /// Throws, with nothing changed: `.misaligned`, `.outsideCursorRange`
    /// (either range leaves the cursor's), `.invalidRange` (the two ranges
    /// overlap), `.alreadyMapped` (something is mapped in the destination),
    /// `.splitsLargePage` (a large leaf in or across either range),
    /// `.outOfMemory` (no page-table page for the destination).
    public mutating func move(length: UInt64, to destination: VirtualAddress) throws(PagingError) {
        let end = try operationEnd(length: length, alignment: pageSize)
        guard destination.isPageAligned else { throw .misaligned }
        let target = LinearAddress.linear(destination)
        guard LinearAddress.isCanonical(destination), target >= linearStart, target <= linearEnd,
              length <= linearEnd - target else { throw .outsideCursorRange }
        guard end <= target || target + length <= linearPosition else { throw .invalidRange }
        try tree.checkNoLargePageStraddles(linearPosition)
        try tree.checkNoLargePageStraddles(end)
        try tree.checkNoLargePageStraddles(target)
        try tree.checkNoLargePageStraddles(target + length)
        if tree.hasEntries(tree.root, .pml4, 0, target, target + length) { throw .alreadyMapped }
        let delta = target &- linearPosition
        var plan = PageTableTree<Memory, Frames>.MovePlan()
        try tree.planMove(tree.root, .pml4, 0, linearPosition, end, delta: delta, &plan)
        var reserve = try TableReserve(count: plan.missingTables, frames: tree.frames, memory: tree.memory)
        var moving = PageTableTree<Memory, Frames>.MoveCursor()
        tree.move(tree.root, .pml4, 0, linearPosition, end, delta: delta, reserve: &reserve, target: &moving,
                  pending: &pending)
        assert(reserve.count == 0, "move: the plan counted more tables than the move used")
        reserve.releaseAll(to: tree.frames, memory: tree.memory)
        tree.pruneEmptyTables(tree.root, .pml4, 0, linearPosition, end, pending: &pending)
        cachedPageTable = nil
        linearPosition = end
    }
}
