// The memory limits (invariant 9): RLIMIT_AS caps the pages mapped,
// RLIMIT_DATA the private writable ones, as Linux enforces them:
// - may_expand_vm (mm/mmap.c): `total_vm + npages` against RLIMIT_AS, and
//   for a data mapping (is_data_mapping: writable, not shared, not the
//   stack) `data_vm + npages` against RLIMIT_DATA, where a soft limit of 0
//   means the hard one ("Workaround for Valgrind");
// - mmap (__mmap_region): may_expand_vm for the new pages minus those a
//   MAP_FIXED request replaces (even when the replaced ones are not data:
//   Linux subtracts them from both);
// - brk (SYSCALL_DEFINE1(brk)): check_data_rlimit, `new break - start_brk`
//   against RLIMIT_DATA, before anything else, even when shrinking; then
//   may_expand_vm for the growth (do_brk_flags, a data mapping);
// - mprotect (mprotect_fixup): a region turning writable fails if it
//   becomes a data mapping that does not fit while it fitted as it was
//   ("Check space limits when area turns into data");
// - mremap (vma_to_resize): may_expand_vm for the growth, through
//   `checkMappingGrowth`.
// Every failure is `.limitExceeded` (ENOMEM), thrown before any change.
// Limits are the soft ones (rlimit(), not rlimit_max()), in bytes, and
// compared as pages rounded down, as Linux does.
//
// Known deviations:
// - check_data_rlimit also adds the ELF data segment's file size
//   (end_data - start_data); this space does not record it, so brk may
//   grow that much further.
// - Linux applies mprotect region by region and can fail after changing
//   the first ones; here the whole request is checked first (with the
//   same per-region decisions, in the same order) and nothing changes.

extension UserAddressSpace {
    /// Throws `.limitExceeded` unless `pages` more pages of a mapping like
    /// `region` (its protection, backing and kind decide whether they are
    /// data) fit in the limits (Linux may_expand_vm). For mremap growing a
    /// region in place or moving it larger: call with the growth in pages
    /// before changing anything.
    public func checkMappingGrowth(byPages pages: Int, like region: Region) throws(VMError) {
        guard Self.mayExpand(counters, byPages: pages, isData: region.isDataMapping, limits) else {
            throw .limitExceeded
        }
    }

    /// Linux may_expand_vm over `counters` and `limits`. Contract: pages >= 0.
    static func mayExpand(_ counters: MemoryCounters, byPages pages: Int, isData: Bool,
                          _ limits: MemoryLimits) -> Bool {
        let pages = UInt64(pages)
        if UInt64(counters.totalPages) + pages > MemoryLimits.pages(limits.addressSpace) { return false }
        if isData && UInt64(counters.dataPages) + pages > MemoryLimits.pages(limits.data) {
            // "Workaround for Valgrind": a soft limit of 0 defers to the hard one.
            return limits.data == 0 && UInt64(counters.dataPages) + pages <= MemoryLimits.pages(limits.dataMaximum)
        }
        return true
    }

    /// mmap's check: `region` may be added, after unmapping whatever lies
    /// in its range (MAP_FIXED), within the limits. Throws `.limitExceeded`.
    func checkMapLimits(_ region: Region) throws(VMError) {
        var replaced = 0
        for piece in regionList.pieces(in: region.range) { replaced += piece.pageCount }
        try checkMappingGrowth(byPages: region.pageCount - replaced, like: region)
    }

    /// brk's check_data_rlimit: false if a break at `requested` would make
    /// the heap larger than RLIMIT_DATA (checked for every brk call that
    /// moves the break, shrinking included, as Linux does).
    /// Contract: `requested >= breakStart`.
    func breakFitsDataLimit(_ requested: VirtualAddress) -> Bool {
        limits.data == .max || requested.raw - breakStart.raw <= limits.data
    }

    /// mprotect's check over `pieces` (the regions' parts of the range, in
    /// order) becoming `protection`: throws `.limitExceeded` if one of them
    /// turns into a data mapping that does not fit while it fitted before,
    /// counting the earlier pieces as already changed (mprotect_fixup per VMA).
    func checkProtectLimits(_ pieces: [Region], to protection: VMProtection) throws(VMError) {
        guard protection.contains(.write) else { return }
        var running = counters
        for old in pieces where old.protection != protection {
            let new = old.with(protection: protection)
            let pages = old.pageCount
            if !Self.mayExpand(running, byPages: pages, isData: new.isDataMapping, limits)
                && Self.mayExpand(running, byPages: pages, isData: old.isDataMapping, limits) {
                throw .limitExceeded
            }
            running.addRegion(old, sign: -1)
            running.addRegion(new)
        }
    }
}
