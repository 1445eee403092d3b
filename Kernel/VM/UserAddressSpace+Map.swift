// mmap: adding a region (Linux mm/mmap.c do_mmap, get_unmapped_area).
//
// Steps, in Linux's order: the range (fixed, the hint, or a gap), then the
// new region's setup (NewRegion: the may-permissions the backing allows),
// then the old mappings under a MAP_FIXED range go, then the commit. A
// refusal at any step leaves the space unchanged.

/// What to map: the arguments of mmap that matter to the address space.
public struct MapRequest {
    /// With `fixed`, where the region must start; otherwise a hint, or nil.
    public var address: VirtualAddress?
    /// Bytes; rounded up to whole pages. Zero is invalid.
    public var length: UInt64
    public var protection: VMProtection
    public var kind: RegionKind
    /// MAP_FIXED: map exactly at `address`, replacing what is there.
    public var fixed: Bool
    /// Where the pages come from, and the backing's page index of the
    /// first page (nil: the default for private anonymous memory).
    public var backing: RegionBacking
    public var pageOffset: UInt64?

    public init(address: VirtualAddress? = nil, length: UInt64, protection: VMProtection,
                kind: RegionKind = .anonymous, fixed: Bool = false,
                backing: RegionBacking = .privateAnonymous, pageOffset: UInt64? = nil) {
        self.address = address
        self.length = length
        self.protection = protection
        self.kind = kind
        self.fixed = fixed
        self.backing = backing
        self.pageOffset = pageOffset
    }
}

extension UserAddressSpace {
    /// Adds a region of `request.length` bytes (rounded up to pages);
    /// returns its start. No page is touched: the fault path fills them.
    /// - fixed: `address` must be given and page aligned, and the range lie
    ///   in [userStart, userEnd), else `.invalidArgument`. Whatever was
    ///   mapped there is unmapped first.
    /// - otherwise: the hint (rounded up to a page) if the range there is
    ///   free and inside user space, else the highest free range below
    ///   `mmapTop`; `.noSpace` if there is none.
    /// Throws, with nothing changed: `.invalidArgument` for a zero length;
    /// `.permissionDenied` for a writable shared file mapping (the files
    /// are read-only); `.limitExceeded` past RLIMIT_AS or RLIMIT_DATA
    /// (counting what a fixed request replaces as freed,
    /// UserAddressSpace+Limits.swift), in that order (do_mmap's EACCES
    /// before mmap_region's may_expand_vm); `.tooManyRegions` if the result
    /// would have more than RegionList.maxCount regions (Linux do_mmap:
    /// ENOMEM).
    public mutating func map<TLB: TLBControl>(_ request: MapRequest, tlb: TLB) throws(VMError) -> VirtualAddress {
        guard request.length > 0 else { throw .invalidArgument }
        guard let length = Self.pageAlignedUp(request.length) else {
            throw request.fixed ? .invalidArgument : .noSpace
        }
        let start = request.fixed ? try fixedStart(request.address, length: length)
                                  : try freeStart(hint: request.address, length: length)
        let range = start..<start + length
        var region = NewRegion(range: range, request)
        try Self.restrictToBacking(&region, request.backing)
        try checkMapLimits(region.shape)
        guard regionList.fits(placing: [region.shape], over: range) else { throw .tooManyRegions }
        if request.fixed { removeMappings(range, tlb: tlb) }
        region.commit(into: &self)
        return start
    }

    /// Narrows a new region's may-permissions to what its backing allows
    /// (the file's part of mmap). A shared mapping of a file opened without
    /// write access may never write: Linux do_mmap returns EACCES for
    /// PROT_WRITE and clears VM_MAYWRITE otherwise, so a later
    /// mprotect(PROT_WRITE) is EACCES too. Every file here is read-only
    /// (open refuses write access with EROFS), so every shared file
    /// mapping loses may-write. A private file mapping keeps it: its
    /// writes are copies (copy-on-write from the page cache).
    private static func restrictToBacking(_ region: inout NewRegion, _ backing: RegionBacking) throws(VMError) {
        if case .sharedFile = backing { try region.clearMayWrite() }
    }

    /// The start of a MAP_FIXED request. Throws `.invalidArgument` if
    /// `address` is missing, misaligned, or the range leaves user space.
    private func fixedStart(_ address: VirtualAddress?, length: UInt64) throws(VMError) -> VirtualAddress {
        guard let address, address.isPageAligned,
              Self.isUserRange(start: address.raw, length: length) else { throw .invalidArgument }
        return address
    }

    /// The start for a non-fixed request: the page-aligned hint if free,
    /// else top-down first fit below `mmapTop`. Throws `.noSpace`.
    /// (Also mremap's choice of a new place, UserAddressSpace+Remap.swift.)
    func freeStart(hint: VirtualAddress?, length: UInt64) throws(VMError) -> VirtualAddress {
        if let hint, let start = Self.pageAlignedUp(hint.raw), Self.isUserRange(start: start, length: length),
           regionList.isFree(VirtualAddress(start)..<VirtualAddress(start + length)) {
            return VirtualAddress(start)
        }
        guard let start = regionList.highestGap(length: length, in: Self.userStart..<Self.mmapTop) else {
            throw .noSpace
        }
        return start
    }
}
