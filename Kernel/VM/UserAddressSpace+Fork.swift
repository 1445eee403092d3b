// fork: a copy-on-write copy of the address space for a child process
// (Linux kernel/fork.c dup_mmap and mm/memory.c copy_present_pte;
// Asterinas vmar fork: "Sets mappings in the source page table as
// read-only to trigger COW, and copies the mappings to the destination
// page table").
//
// - Private regions: every leaf is shared. The parent's leaf loses its
//   write bit, the frame loses its exclusive mark (PageAnonExclusive), and
//   the child gets a read-only leaf holding one more reference and one
//   more map count. The first write on either side faults: a copy, or an
//   in-place reuse once the other side has gone.
// - Parked leaves (PROT_NONE keeping its pages) are shared the same way:
//   the child gets a parked leaf with one more reference and map count,
//   the frame loses its exclusive mark, and both stay parked. Raising the
//   protection later gives each side a read-only leaf (reprotectPages: a
//   frame without the mark is never made writable), so the first write
//   goes through copy-on-write (Linux copy_present_pte also copies
//   protnone PTEs, since pte_present() is true for them).
// - The child's regions share the parent's lineages (the reverse map:
//   a shared frame's owner and index stay right for both spaces), and the
//   child joins each lineage's members.
// - Shared regions: no leaf is copied; the child faults its pages in from
//   the object (Linux does not copy shared PTEs either).
// - The parent owes one batched TLB flush (its write-protected leaves);
//   the child owes nothing (its leaves are new, and it is not loaded).

extension UserAddressSpace {
    /// A new space sharing `kernel`'s half, with the same regions and break
    /// as this one and every private page shared copy-on-write.
    /// `tlb` is that of the CPU on which this space is loaded.
    /// Throws `.outOfMemory` (no page-table page for the child) having torn
    /// the partial child down completely. This space then keeps its pages;
    /// some leaves may have lost their write bit (and some parked frames
    /// their exclusive mark, so they come back read-only), which only costs
    /// a reuse fault (each frame is back to one reference).
    public mutating func fork<TLB: TLBControl>(kernel: borrowing PageTable<Memory, Frames>,
                                               tlb: TLB) throws(VMError) -> UserAddressSpace<Memory, Frames> {
        var child = try UserAddressSpace(sharingKernelHalfOf: kernel)
        let frames = table.frames
        let zero = frames.zeroFrame
        let regions = self.regions
        var failure: PagingError? = nil
        var shared = 0
        if let first = regions.first, let last = regions.last {
            let span = first.start..<last.end
            do {
                try child.table.edit(span, flushingWith: tlb) { (childCursor) throws(PagingError) in
                    try table.edit(span, flushingWith: tlb) { (cursor) throws(PagingError) in
                        for region in regions where region.backing.isPrivate && region.protection.allowsAccess {
                            try cursor.jump(to: region.start)
                            try cursor.updateLeaves(length: region.end.raw - region.start.raw) { address, entry in
                                let frame = entry.address(at: .pageTable)
                                guard failure == nil else { return entry }
                                do throws(PagingError) {
                                    try childCursor.jump(to: address)
                                    try childCursor.map(frames.shareFrame(at: frame),
                                                        PageProtection(leaf: entry).subtracting(.write))
                                } catch {
                                    failure = error
                                    return entry
                                }
                                shared += 1
                                if frame != zero {
                                    frames.setFlags(frames.flags(of: frame).subtracting(.anonExclusive), of: frame)
                                }
                                return entry.with(PageProtection(leaf: entry).subtracting(.write))
                            }
                        }
                    }
                    for region in regions where region.backing.isPrivate && !region.protection.allowsAccess {
                        table.forEachLeaf(in: region.range, includingParked: true) { address, entry in
                            guard failure == nil, entry.isParked else { return }
                            let frame = entry.address(at: .pageTable)
                            do throws(PagingError) {
                                try childCursor.jump(to: address)
                                try childCursor.mapParked(frames.shareFrame(at: frame))
                            } catch {
                                failure = error
                                return
                            }
                            shared += 1
                            if frame != zero {
                                frames.setFlags(frames.flags(of: frame).subtracting(.anonExclusive), of: frame)
                            }
                        }
                    }
                }
            } catch {
                failure = error
            }
        }
        if failure != nil {
            child.tearDown()
            throw .outOfMemory
        }
        child.residentPages = shared
        child.regionList = regionList
        for region in regions { region.lineage?.add(child.identity) }
        child.breakStart = breakStart
        child.breakEnd = breakEnd
        noteTouched(Self.userStart..<Self.userEnd)
        return child
    }
}
