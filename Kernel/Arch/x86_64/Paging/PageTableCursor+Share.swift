// PageTableCursor.shareLeaves: fork's copy of a range of leaves into a
// child's table, write-protected on both sides (Linux mm/memory.c
// copy_pte_range and copy_present_pte for a COW mapping).
//
// Design: one pass per page table of the parent, not one cursor operation
// per page. Each parent page table that exists is walked to once, its
// child counterpart created (or found) once, and then its 512 entries are
// copied in a plain loop: for each present leaf the frame gets its extra
// reference and map count in one FrameProvider call, the child's entry is
// the parent's without R/W, A and D, and the parent's loses R/W. Directory
// entries that are missing skip their whole coverage (Linux's
// pmd_none_or_clear_bad / p4d skipping in copy_page_range).
//
// Flush rule: a parent leaf that loses R/W owes an invalidation (recorded
// in the parent cursor's PendingFlush); the child's leaves are new.

extension PageTableCursor {
    /// Copies every present 4 KiB leaf in [position, position + length) to
    /// the same address in `child`, write-protected there and here, with
    /// one more reference and map count on its frame and `clearing`
    /// removed from the frame's flags (fork clears PageAnonExclusive), and
    /// calls `visit` with each copied leaf's frame (fork counts the child's
    /// RSS by it). Returns the number of leaves copied. This cursor advances past the
    /// range; `child` is left at the last page table it wrote.
    /// Contract: the range holds only owning 4 KiB leaves (a user space) and
    /// `child`'s range covers it with nothing mapped there yet.
    /// Throws `.outOfMemory` when a child page table cannot be allocated:
    /// the leaves copied so far stay (both sides consistent, the child to
    /// be torn down by the caller); `.misaligned`, `.outsideCursorRange`.
    public mutating func shareLeaves(length: UInt64, into child: inout PageTableCursor<Memory, Frames>,
                                     clearing flags: FrameFlags,
                                     visiting visit: (PhysicalAddress) -> Void = { _ in }) throws(PagingError) -> Int {
        let end = try operationEnd(length: length, alignment: pageSize)
        let tableCoverage = PagingLevel.pageDirectory.entryCoverage
        let entryBytes = MemoryLayout<UInt64>.stride
        let childBitsCleared = PageTableEntry.writable | PageTableEntry.accessed | PageTableEntry.dirty
        var copied = 0
        while linearPosition < end {
            let chunkEnd = Swift.min(end, (linearPosition & ~(tableCoverage - 1)) &+ tableCoverage)
            let (found, skipTo) = tree.pageTableOrSkip(linearPosition)
            guard let parentTable = found else {
                linearPosition = Swift.min(end, skipTo)
                continue
            }
            // SAFETY: both are whole page-table pages reached through the
            // physical window, and distinct (different spaces).
            let parentEntries = tree.memory.pointer(to: parentTable)
            var childTable: UnsafeMutableRawPointer? = nil
            let chunkStart = linearPosition & ~(tableCoverage - 1)
            let first = PagingLevel.pageTable.index(of: linearPosition)
            let last = PagingLevel.pageTable.index(of: chunkEnd - 1)
            for index in first...last {
                let raw = parentEntries.load(fromByteOffset: index &* entryBytes, as: UInt64.self)
                if raw & PageTableEntry.present == 0 { continue }
                if childTable == nil {
                    // The child's table at the first leaf to copy, so that
                    // it never gets an empty one.
                    try child.jump(to: LinearAddress.canonical(chunkStart | UInt64(index) << pageShift))
                    childTable = tree.memory.pointer(to: try child.pageTableCreatingMissing())
                }
                let childEntries = childTable.unsafelyUnwrapped
                precondition(raw & PageTableEntry.ownsFrame != 0, "shareLeaves: a leaf that owns no frame")
                precondition(childEntries.load(fromByteOffset: index &* entryBytes, as: UInt64.self) == 0,
                             "shareLeaves: the child is mapped there already")
                let frame = PhysicalAddress(raw & PageTableEntry.tableAddressMask)
                tree.frames.duplicateLeafReference(frame, clearing: flags)
                visit(frame)
                childEntries.storeBytes(of: raw & ~childBitsCleared, toByteOffset: index &* entryBytes,
                                        as: UInt64.self)
                if raw & PageTableEntry.writable != 0 {
                    parentEntries.storeBytes(of: raw & ~PageTableEntry.writable, toByteOffset: index &* entryBytes,
                                             as: UInt64.self)
                    pending.recordChangedLeaf(at: LinearAddress.canonical(chunkStart | UInt64(index) << pageShift),
                                              wasGlobal: raw & PageTableEntry.global != 0)
                }
                copied += 1
            }
            linearPosition = chunkEnd
        }
        return copied
    }
}
