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
// - The child's counters: the parent's mapped pages (every region is
//   copied, Linux dup_mmap copies total_vm, data_vm, stack_vm) and the
//   RSS of the leaves it got; its limits are the parent's.
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
        // The regions first: a failed copy tears the child down by them.
        child.regionList = regionList
        let regions = self.regions
        var failed = false
        var shared = 0
        let frames = table.frames
        var childResident = MemoryCounters()
        if let first = regions.first, let last = regions.last {
            let span = first.start..<last.end
            do {
                try child.table.edit(span, flushingWith: tlb) { (childCursor) throws(PagingError) in
                    try table.edit(span, flushingWith: tlb) { (cursor) throws(PagingError) in
                        for region in regions where region.backing.isPrivate && region.protection.allowsAccess {
                            // One pass per page table (PageTableCursor.shareLeaves):
                            // the frames lose PageAnonExclusive (the zero page
                            // never has it).
                            try cursor.jump(to: region.start)
                            shared += try cursor.shareLeaves(length: region.end.raw - region.start.raw,
                                                             into: &childCursor, clearing: .anonExclusive) {
                                childResident.addResident(ResidentKind.of($0, frames))
                            }
                        }
                    }
                    // Parked PROT_NONE pages, one cursor step each (a colder
                    // path than shareLeaves; Linux copies them as it copies
                    // present ptes, copy_nonpresent_pte aside).
                    var parkedFailure: PagingError? = nil
                    for region in regions where region.backing.isPrivate && !region.protection.allowsAccess {
                        table.forEachLeaf(in: region.range, includingParked: true) { address, entry in
                            guard parkedFailure == nil, entry.isParked else { return }
                            let frame = entry.address(at: .pageTable)
                            do throws(PagingError) {
                                try childCursor.jump(to: address)
                                try childCursor.mapParked(frames.shareFrame(at: frame))
                            } catch {
                                parkedFailure = error
                                return
                            }
                            shared += 1
                            childResident.addResident(ResidentKind.of(frame, frames))
                            if frame != frames.zeroFrame {
                                frames.setFlags(frames.flags(of: frame).subtracting(.anonExclusive), of: frame)
                            }
                        }
                    }
                    if let parkedFailure { throw parkedFailure }
                }
            } catch {
                failed = true
            }
        }
        if failed {
            child.tearDown()
            throw .outOfMemory
        }
        child.residentPages = shared
        child.counters = counters.withResident(of: childResident)
        child.limits = limits
        for region in regions { region.lineage?.add(child.identity) }
        child.breakStart = breakStart
        child.breakEnd = breakEnd
        noteTouched(Self.userStart..<Self.userEnd)
        return child
    }
}
