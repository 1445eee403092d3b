// mprotect: changing the protection of mapped pages (Linux mm/mprotect.c).

extension UserAddressSpace {
    /// Gives every page of `range` (end rounded up to a page) the protection
    /// `protection`, splitting regions at the bounds and merging neighbours
    /// that become compatible; the changed page-table entries are flushed.
    /// Never allocates: pages not yet touched stay untouched, and shared
    /// copy-on-write pages stay read-only (they fault on write).
    /// An empty range does nothing (Linux returns 0 for len 0).
    /// Throws, with nothing changed: `.invalidArgument` if the start is not
    /// page aligned; `.notMapped` if any page of the range is in no region
    /// (Linux: ENOMEM); `.tooManyRegions` if the splits would leave more
    /// than RegionList.maxCount regions (Linux split_vma: ENOMEM).
    public mutating func protect<TLB: TLBControl>(_ range: Range<VirtualAddress>, to protection: VMProtection,
                                                  tlb: TLB) throws(VMError) {
        guard range.lowerBound.isPageAligned else { throw .invalidArgument }
        guard !range.isEmpty else { return }
        guard let end = Self.pageAlignedUp(range.upperBound.raw) else { throw .notMapped }
        let range = range.lowerBound..<VirtualAddress(end)
        guard regionList.covers(range, where: { _ in true }) else { throw .notMapped }
        let pieces = regionList.pieces(in: range).map { $0.with(protection: protection) }
        guard regionList.fits(placing: pieces, over: range) else { throw .tooManyRegions }
        if protection.allowsAccess {
            reprotectPages(pieces, tlb: tlb)
        } else {
            discardPages(range, tlb: tlb)
        }
        regionList.replace(range, with: pieces)
    }
}
