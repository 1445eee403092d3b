// mprotect: changing the protection of mapped pages (Linux mm/mprotect.c).

extension UserAddressSpace {
    /// Gives every page of `range` (end rounded up to a page) the protection
    /// `protection`, splitting regions at the bounds and merging neighbours
    /// that become compatible; the changed page-table entries are flushed.
    /// An empty range does nothing (Linux returns 0 for len 0).
    /// Throws, with nothing changed: `.invalidArgument` if the start is not
    /// page aligned; `.notMapped` if any page of the range is in no region
    /// (Linux: ENOMEM); `.outOfMemory` if raising PROT_NONE pages (which
    /// have no frames, see UserAddressSpace.swift) found no frame.
    public mutating func protect<TLB: TLBControl>(_ range: Range<VirtualAddress>, to protection: VMProtection,
                                                  tlb: TLB) throws(VMError) {
        guard range.lowerBound.isPageAligned else { throw .invalidArgument }
        guard !range.isEmpty else { return }
        guard let end = Self.pageAlignedUp(range.upperBound.raw) else { throw .notMapped }
        let range = range.lowerBound..<VirtualAddress(end)
        guard regionList.covers(range, where: { _ in true }) else { throw .notMapped }
        let pieces = regionList.pieces(in: range)
        if protection.allowsAccess {
            try populateInaccessible(pieces, protection, tlb: tlb)
            reprotectPages(range, protection, tlb: tlb)
        } else {
            discardPages(range, tlb: tlb)
        }
        regionList.remove(range)
        for piece in pieces { regionList.insert(piece.with(protection: protection)) }
    }

    /// Populates the PROT_NONE pieces among `pieces` with `protection`, or
    /// none of them: throws `.outOfMemory` having discarded what it mapped.
    private mutating func populateInaccessible<TLB: TLBControl>(_ pieces: [Region], _ protection: VMProtection,
                                                                tlb: TLB) throws(VMError) {
        var populated: [Range<VirtualAddress>] = []
        for piece in pieces where !piece.protection.allowsAccess {
            do {
                try populate(piece.range, protection, tlb: tlb)
            } catch {
                for range in populated { discardPages(range, tlb: tlb) }
                throw error
            }
            populated.append(piece.range)
        }
    }
}
