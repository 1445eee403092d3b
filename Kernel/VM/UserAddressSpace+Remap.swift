// mremap: resizing and moving a mapping (Linux mm/mremap.c: do_mremap,
// check_mremap_params, mremap_at, mremap_to, remap_is_valid (vma_to_resize
// before 6.16), expand_vma, move_vma, copy_vma, move_page_tables).
//
// Forms, as on Linux:
// - shrink: the tail [old + new, old + oldLength) is unmapped (munmap's
//   rules: holes and several regions are fine), the address is returned;
// - grow in place: when the old range ends exactly where its region ends
//   and the pages after it are free, the region grows (merging with the
//   next one if they are compatible, vma_merge_extend);
// - move (MREMAP_MAYMOVE, when growing in place is not possible): a new
//   place is chosen as mmap chooses one (top-down), the region there gets
//   the old range's pages and the old range is unmapped;
// - move to a chosen place (MREMAP_FIXED, implies MAYMOVE): whatever is
//   mapped at [new, new + newLength) is unmapped first, as MAP_FIXED does;
// - MREMAP_DONTUNMAP (Linux 5.7; any mapping since 5.13): a move of the
//   same size that leaves the old range mapped, with no pages: private
//   pages read as zero there, shared ones fault the object's pages in again;
// - old length 0 on a shared mapping: a second mapping of the same pages
//   (the same SharedMemory object, at the page offset of the old address);
//   nothing is moved or unmapped. On a private mapping it is EINVAL.
//
// Moving never copies a page: the page-table entries move
// (PageTableCursor.move), whole page tables where the distance allows
// (move_normal_pmd). So every frame keeps its reference, map count,
// anon-exclusive flag and reverse-map record, and the moved region keeps
// what the reverse map needs to find them (ReverseMap.swift): the same
// lineage, and the page offset of the old range's first page (Linux moves
// vm_pgoff with the vma, copy_vma's new_pgoff). Only an anonymous region
// that never faulted (no lineage, so no page) takes the page number of its
// new place as its offset, as copy_vma does, so that it can merge there.
//
// Errors, in Linux's order (6.16; the checks on new_addr before the lookup
// are 6.1's mremap_to checks moved up, the same errno):
// 1. EINVAL: the old address not page aligned; the new length 0 once
//    rounded up to a page; with FIXED or DONTUNMAP: the new address not
//    page aligned, no MAYMOVE, DONTUNMAP with a size change.
//    Then ENOMEM (with FIXED or DONTUNMAP) if the space is within 5
//    regions of vm.max_map_count (RegionList.maxCount).
// 2. EFAULT: no region contains the old address.
// 3. With FIXED or DONTUNMAP (mremap_to): EINVAL if the new range leaves
//    user space or overlaps the old range; FIXED unmaps the new range
//    (done even if a later check fails, as on Linux); a shrink unmaps the
//    tail; then 4.; then EPERM for a FIXED place below `userStart`;
//    DONTUNMAP alone takes the new address as a hint.
// 4. remap_is_valid: EINVAL for old length 0 on a private mapping; EFAULT
//    if the old range runs past the end of its region (unmapped, or
//    another region); EINVAL if the page offset would overflow; ENOMEM
//    if the growth passes RLIMIT_AS (or RLIMIT_DATA for a data mapping:
//    may_expand_vm); with DONTUNMAP, ENOMEM if the old range, which stays
//    mapped, does.
// 5. Growing without FIXED: in place if possible; else ENOMEM without
//    MAYMOVE; else ENOMEM if no free range is left.
// A move (move_vma) also needs room for two more regions: ENOMEM within
// 3 of the cap.
// A failure to allocate a page-table page for the destination (ENOMEM)
// leaves the regions and pages as they were, except that what 3. had
// already unmapped stays unmapped (Linux alike).
//
// Deviations (written down):
// - Linux 6.17 lets a FIXED move of the same size span several regions
//   (mm/mremap.c remap_move); here, as before 6.17, that is EFAULT.
// - The new range must lie in [userStart, userEnd): above, EINVAL (Linux's
//   TASK_SIZE check, at our lower end of user space); below, EPERM (Linux
//   allows it with CAP_SYS_RAWIO).
// - old length 0 on a read-only MAP_SHARED file mapping is EINVAL here:
//   the mmap syscall makes such a mapping private (nothing can write an
//   archive file), Linux keeps it VM_MAYSHARE.

/// mremap's flags (include/uapi/linux/mman.h: the raw values are Linux's).
public struct RemapOptions: OptionSet, Equatable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// MREMAP_MAYMOVE: the mapping may move if it cannot grow in place.
    public static let mayMove = RemapOptions(rawValue: 1)
    /// MREMAP_FIXED: move to exactly `newAddress` (needs `mayMove`).
    public static let fixed = RemapOptions(rawValue: 2)
    /// MREMAP_DONTUNMAP: move, and leave the old range mapped but empty.
    public static let dontUnmap = RemapOptions(rawValue: 4)
    public static let all: RemapOptions = [.mayMove, .fixed, .dontUnmap]

    /// The options of a `flags` argument, or nil if it has other bits
    /// (EINVAL, check_mremap_params).
    public init?(linuxFlags: UInt64) {
        guard linuxFlags & ~Self.all.rawValue == 0 else { return nil }
        self.init(rawValue: linuxFlags)
    }
}

/// What to remap: mremap's arguments, unrounded (the rounding and its
/// wrap-around are part of the semantics, PAGE_ALIGN in do_mremap).
public struct RemapRequest {
    public var oldAddress: VirtualAddress
    public var oldLength: UInt64
    public var newLength: UInt64
    public var options: RemapOptions
    /// With `.fixed`, where to move; with `.dontUnmap` alone, a hint.
    public var newAddress: VirtualAddress

    public init(oldAddress: VirtualAddress, oldLength: UInt64, newLength: UInt64,
                options: RemapOptions = [], newAddress: VirtualAddress = VirtualAddress(0)) {
        self.oldAddress = oldAddress
        self.oldLength = oldLength
        self.newLength = newLength
        self.options = options
        self.newAddress = newAddress
    }

    /// True if a new address will certainly be used (vrm_implies_new_addr).
    var impliesNewAddress: Bool { !options.isDisjoint(with: [.fixed, .dontUnmap]) }
}

extension UserAddressSpace {
    /// Resizes or moves the mapping at `request.oldAddress` as mremap does
    /// (the forms and the order of the errors are in this file's header)
    /// and returns its address afterwards. Pages are moved, never copied.
    /// Contract: `tlb` is the TLB of the CPU that has this space loaded.
    public mutating func remap<TLB: TLBControl>(_ request: RemapRequest, tlb: TLB) throws(VMError) -> VirtualAddress {
        // check_mremap_params.
        let old = request.oldAddress
        guard old.isPageAligned else { throw .invalidArgument }
        let newLength = Self.pageAlignedWrapping(request.newLength)
        guard newLength != 0 else { throw .invalidArgument }
        if request.impliesNewAddress {
            guard request.newAddress.isPageAligned, request.options.contains(.mayMove) else { throw .invalidArgument }
            if request.options.contains(.dontUnmap) && request.oldLength != request.newLength {
                throw .invalidArgument
            }
            // check_mremap_params: "map_count + 2 >= sysctl_max_map_count - 3" is ENOMEM.
            guard regionList.count + 2 < RegionList.maxCount - 3 else { throw .tooManyRegions }
        }
        let oldLength = Self.pageAlignedWrapping(request.oldLength)
        // vma_lookup.
        guard old >= Self.userStart, old < Self.userEnd, let region = regionList.region(containing: old) else {
            throw .badAddress
        }
        if request.impliesNewAddress {
            return try remapTo(region, old, oldLength, newLength, request, tlb: tlb)
        }
        return try remapAt(region, old, oldLength, newLength, mayMove: request.options.contains(.mayMove), tlb: tlb)
    }

    /// mremap_at: resize where the mapping is, or move it somewhere free.
    private mutating func remapAt<TLB: TLBControl>(_ region: Region, _ old: VirtualAddress, _ oldLength: UInt64,
                                                   _ newLength: UInt64, mayMove: Bool,
                                                   tlb: TLB) throws(VMError) -> VirtualAddress {
        if newLength == oldLength { return old }
        if newLength < oldLength {
            try unmapTail(old, oldLength, newLength, tlb: tlb)
            return old
        }
        // expand_vma.
        try checkRemappable(region, old, oldLength, newLength)
        if region.end.raw - old.raw == oldLength, newLength <= Self.userEnd.raw - old.raw,
           regionList.isFree(region.end..<old + newLength) {
            // vma_expandable: grow in place; insert merges with a compatible next region.
            var grown = region
            grown.range = region.start..<old + newLength
            removeRegions(region.range, pieces: [region])
            commitRegion(grown)
            return old
        }
        guard mayMove else { throw .noSpace }
        let destination = try freeStart(hint: nil, length: newLength)
        try move(region, old, oldLength, to: destination, newLength, leavingOldRange: false, tlb: tlb)
        return destination
    }

    /// mremap_to: move to `request.newAddress` (FIXED) or near it (DONTUNMAP alone).
    private mutating func remapTo<TLB: TLBControl>(_ region: Region, _ old: VirtualAddress, _ oldLength: UInt64,
                                                   _ newLength: UInt64, _ request: RemapRequest,
                                                   tlb: TLB) throws(VMError) -> VirtualAddress {
        let new = request.newAddress
        guard newLength <= Self.userEnd.raw, new.raw <= Self.userEnd.raw - newLength else { throw .invalidArgument }
        // vrm_overlaps (Linux computes the old end without overflow checks, so do we).
        if old.raw &+ oldLength > new.raw && new.raw + newLength > old.raw { throw .invalidArgument }
        let fixed = request.options.contains(.fixed)
        var region = region
        if fixed {
            removeMappings(new..<new + newLength, tlb: tlb)
            // The old region may have been split by that: look it up again.
            guard let again = regionList.region(containing: old) else { throw .badAddress }
            region = again
        }
        var oldLength = oldLength
        if newLength < oldLength {
            try unmapTail(old, oldLength, newLength, tlb: tlb)
            guard let again = regionList.region(containing: old) else { throw .badAddress }
            region = again
            oldLength = newLength
        }
        try checkRemappable(region, old, oldLength, newLength)
        // DONTUNMAP leaves the old range mapped: oldLength more (mremap_to's may_expand_vm).
        if request.options.contains(.dontUnmap) {
            try checkMappingGrowth(byPages: Int(oldLength / pageSize), like: region)
        }
        let destination: VirtualAddress
        if fixed {
            guard new >= Self.userStart else { throw .notPermitted }
            destination = new
        } else {
            destination = try freeStart(hint: new.raw == 0 ? nil : new, length: newLength)
        }
        try move(region, old, oldLength, to: destination, newLength,
                 leavingOldRange: request.options.contains(.dontUnmap), tlb: tlb)
        return destination
    }

    /// remap_is_valid: may [old, old + oldLength) of `region` become
    /// `newLength` bytes? Throws `.invalidArgument` (old length 0 on a
    /// private mapping; the page offset would overflow) or `.badAddress`
    /// (the old range leaves its region).
    private func checkRemappable(_ region: Region, _ old: VirtualAddress, _ oldLength: UInt64,
                                 _ newLength: UInt64) throws(VMError) {
        // "attempted to duplicate a private mapping with mremap. This is not supported."
        if oldLength == 0 && region.backing.isPrivate { throw .invalidArgument }
        // "We can't remap across vm area boundaries."
        if oldLength > region.end.raw - old.raw { throw .badAddress }
        if newLength == oldLength { return }
        let pageOffset = region.pageIndex(of: old)
        if pageOffset &+ newLength / pageSize < pageOffset { throw .invalidArgument }
        // may_expand_vm by the growth: RLIMIT_AS, and RLIMIT_DATA for a data mapping (ENOMEM).
        if newLength > oldLength {
            try checkMappingGrowth(byPages: Int((newLength - oldLength) / pageSize), like: region)
        }
    }

    /// Unmaps [old + newLength, old + oldLength) (shrink_vma: do_vmi_munmap,
    /// whose EINVAL for a range past the end of user space it keeps).
    private mutating func unmapTail<TLB: TLBControl>(_ old: VirtualAddress, _ oldLength: UInt64, _ newLength: UInt64,
                                                     tlb: TLB) throws(VMError) {
        guard oldLength <= Self.userEnd.raw - old.raw else { throw .invalidArgument }
        removeMappings(old + newLength..<old + oldLength, tlb: tlb)
    }

    /// move_vma: gives [destination, destination + newLength) a region like
    /// `region` whose first page is the old range's first page, moves the
    /// old range's page-table entries there, and unmaps the old range, or,
    /// `leavingOldRange` (DONTUNMAP), leaves it mapped without pages.
    /// Throws `.outOfMemory`, with nothing changed, if a page-table page
    /// for the destination cannot be allocated.
    /// Contract: `checkRemappable` passed; the destination is page aligned,
    /// free, in user space and disjoint from the old range.
    private mutating func move<TLB: TLBControl>(_ region: Region, _ old: VirtualAddress, _ oldLength: UInt64,
                                                to destination: VirtualAddress, _ newLength: UInt64,
                                                leavingOldRange: Bool, tlb: TLB) throws(VMError) {
        // move_vma: a move adds at most two regions (the new one, and a split
        // of the old), so this keeps the cap (RegionList invariant 3).
        guard regionList.count < RegionList.maxCount - 3 else { throw .tooManyRegions }
        var pageOffset = region.pageIndex(of: old)
        if case .privateAnonymous = region.backing, region.lineage == nil {
            // copy_vma: "If anonymous vma has not yet been faulted, update new pgoff to match new location."
            pageOffset = destination.pageNumber
        }
        let moved = Region(range: destination..<destination + newLength, protection: region.protection,
                           kind: region.kind, backing: region.backing, pageOffset: pageOffset,
                           lineage: region.lineage)
        let oldRange = old..<old + oldLength
        if oldLength > 0 {
            try movePages(oldRange, to: destination, tlb: tlb)
            if !leavingOldRange {
                removeRegions(oldRange, pieces: regionList.pieces(in: oldRange))
            } else if oldRange == region.range && region.backing.isPrivate && region.lineage != nil {
                // dontunmap_complete: the old vma's anon_vma links go when all of it moved;
                // its next fault starts a new lineage.
                var emptied = region
                emptied.lineage = nil
                replaceRegions(region.range, old: [region], with: [emptied])
            }
        }
        commitRegion(moved)
        noteTouched(oldRange)
        noteTouched(moved.range)
    }

    /// Moves the page-table entries of `range` to `destination` (move_page_tables).
    private mutating func movePages<TLB: TLBControl>(_ range: Range<VirtualAddress>, to destination: VirtualAddress,
                                                     tlb: TLB) throws(VMError) {
        let length = range.upperBound.raw - range.lowerBound.raw
        let span = Swift.min(range.lowerBound, destination)..<Swift.max(range.upperBound, destination + length)
        do {
            try table.edit(span, flushingWith: tlb) { (cursor) throws(PagingError) in
                try cursor.jump(to: range.lowerBound)
                try cursor.move(length: length, to: destination)
            }
        } catch {
            if error == .outOfMemory { throw .outOfMemory }
            Self.contractBroken()
        }
    }

    /// `value` rounded up to a page, wrapping to 0 past the top (Linux PAGE_ALIGN).
    static func pageAlignedWrapping(_ value: UInt64) -> UInt64 {
        (value &+ (pageSize - 1)) & ~(pageSize - 1)
    }
}
