// mprotect: changing the protection of mapped pages (Linux mm/mprotect.c).

extension UserAddressSpace {
    /// Gives every page of `range` (end rounded up to a page) the protection
    /// `protection`, splitting regions at the bounds and merging neighbours
    /// that become compatible; the changed page-table entries are flushed.
    /// PROT_NONE parks the pages' leaves (non-present, frame kept: Linux's
    /// _PAGE_PROTNONE) and raising the protection again unparks them, so the
    /// contents survive the round trip in the same frames.
    /// Never allocates: pages not yet touched stay untouched, parked pages
    /// get their own frame back, and shared copy-on-write pages stay
    /// read-only (they fault on write).
    /// An empty range does nothing (Linux returns 0 for len 0).
    /// Throws, with nothing changed: `.invalidArgument` if the start is not
    /// page aligned; `.notMapped` if any page of the range is in no region
    /// (Linux: ENOMEM); `.permissionDenied` if a region's may-permissions
    /// forbid `protection` (EACCES; the first refusal in address order wins,
    /// see UserAddressSpace+Permissions.swift); `.limitExceeded` if private
    /// pages turning writable do not fit in RLIMIT_DATA
    /// (UserAddressSpace+Limits.swift); `.tooManyRegions` if the splits
    /// would leave more than RegionList.maxCount regions (Linux split_vma:
    /// ENOMEM).
    public mutating func protect<TLB: TLBControl>(_ range: Range<VirtualAddress>, to protection: VMProtection,
                                                  tlb: TLB) throws(VMError) {
        guard range.lowerBound.isPageAligned else { throw .invalidArgument }
        guard !range.isEmpty else { return }
        guard let end = Self.pageAlignedUp(range.upperBound.raw) else { throw .notMapped }
        let range = range.lowerBound..<VirtualAddress(end)
        let old = regionList.pieces(in: range)
        if let refusal = protectionRefusal(range, protection, pieces: old) { throw refusal }
        try checkProtectLimits(old, to: protection)
        // Each piece changes through the write view (RegionViews.swift),
        // which refuses past the may-permissions as protectionRefusal did.
        let pieces = try old.map { (piece) throws(VMError) -> Region in
            var view = RegionMut(piece)
            try view.setProtection(protection)
            return view.finish()
        }
        guard regionList.fits(placing: pieces, over: range) else { throw .tooManyRegions }
        if protection.allowsAccess {
            reprotectPages(pieces, tlb: tlb)
        } else {
            parkPages(range, tlb: tlb)
        }
        replaceRegions(range, old: old, with: pieces)
    }
}
