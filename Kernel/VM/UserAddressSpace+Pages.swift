// The page-level steps the region operations are built from: each changes
// the page table (the cache of the regions, invariant 2 in
// UserAddressSpace.swift) through one `table.edit`, flushed with the
// caller's TLB, and keeps `residentPages` and the RSS counters exact. None
// allocates, so any page-table error here means a broken contract and
// traps. Leaves are created only by the fault path
// (UserAddressSpace+Fault.swift); these steps remove them, park them
// (PROT_NONE) and give them back their access.

extension UserAddressSpace {
    /// Unmaps every page of `range`, present or parked, and drops its frame
    /// reference (after its map count, inside the cursor). Holes are fine
    /// (Linux zap_page_range).
    /// Contract: `range` is page aligned and inside user space.
    mutating func discardPages<TLB: TLBControl>(_ range: Range<VirtualAddress>, tlb: TLB) {
        guard !range.isEmpty else { return }
        let frames = table.frames
        var released = 0
        var dropped = MemoryCounters()
        do {
            try table.edit(range, flushingWith: tlb) { (cursor) throws(PagingError) in
                try cursor.unmap(length: range.upperBound.raw - range.lowerBound.raw) { frame in
                    dropped.addResident(ResidentKind.of(frame.address, frames))
                    frames.releaseFrame(frame)
                    released += 1
                }
            }
        } catch {
            Self.contractBroken()
        }
        residentPages -= released
        uncountResident(dropped)
        noteTouched(range)
    }

    /// Parks every leaf of `range` (mprotect to PROT_NONE): each becomes a
    /// non-present entry that keeps its frame, reference and map count, so
    /// raising the protection again gives the same page back (Linux
    /// change_protection with PAGE_NONE, _PAGE_PROTNONE on x86). The pages
    /// stay resident (Linux's RSS counts them too).
    /// Contract: `range` is page aligned and inside user space.
    mutating func parkPages<TLB: TLBControl>(_ range: Range<VirtualAddress>, tlb: TLB) {
        guard !range.isEmpty else { return }
        do {
            try table.edit(range, flushingWith: tlb) { (cursor) throws(PagingError) in
                _ = try cursor.park(length: range.upperBound.raw - range.lowerBound.raw)
            }
        } catch {
            Self.contractBroken()
        }
        noteTouched(range)
    }

    /// Gives every leaf of each piece, present or parked, the piece's
    /// protection, except that a leaf of a private piece stays read-only
    /// unless it maps a frame this leaf alone holds (Linux
    /// can_change_pte_writable): a shared copy-on-write page, or the zero
    /// page, must still fault on write, also when it was parked across a
    /// fork. Parked leaves become present again with the frame they kept.
    /// Contract: the pieces are page aligned, in user space, in address
    /// order, and each `protection.allowsAccess`.
    mutating func reprotectPages<TLB: TLBControl>(_ pieces: [Region], tlb: TLB) {
        guard let first = pieces.first, let last = pieces.last else { return }
        let frames = table.frames
        let zero = frames.zeroFrame
        do {
            try table.edit(first.start..<last.end, flushingWith: tlb) { (cursor) throws(PagingError) in
                for piece in pieces {
                    let full = piece.protection.pageProtection
                    var readOnly = full
                    readOnly.remove(.write)
                    let isPrivate = piece.backing.isPrivate
                    func protection(of frame: PhysicalAddress) -> PageProtection {
                        let exclusive = frame != zero && frames.flags(of: frame).contains(.anonExclusive)
                        return !isPrivate || exclusive ? full : readOnly
                    }
                    let length = piece.end.raw - piece.start.raw
                    try cursor.jump(to: piece.start)
                    try cursor.updateLeaves(length: length) { _, entry in
                        entry.with(protection(of: entry.address(at: .pageTable)))
                    }
                    try cursor.jump(to: piece.start)
                    _ = try cursor.unpark(length: length) { _, frame in protection(of: frame) }
                }
            }
        } catch {
            Self.contractBroken()
        }
        noteTouched(first.start..<last.end)
    }

    /// Traps: ranges are validated before the page-level steps, user spaces
    /// have no large pages, and these steps never allocate.
    static func contractBroken() -> Never {
        fatalError("user address space: page-table contract broken")
    }
}
