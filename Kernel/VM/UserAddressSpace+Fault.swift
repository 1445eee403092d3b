// The page-fault path: the one place that creates user page-table entries
// once a region exists (Linux mm/memory.c handle_mm_fault; Asterinas
// VmMapping::handle_page_fault). The kernel's #PF handler, the kernel's own
// accesses to user memory (usercopy faults, `write`/`read` for the loader)
// and the host tests' fake CPU all come here.
//
// Steps (the region decides, the page table is only its cache):
// 1. The region containing the address, or `.notMapped` (SEGV_MAPERR).
// 2. The region must allow the access (Linux access_error: a write needs
//    VM_WRITE, an instruction fetch VM_EXEC, a read any of the three), or
//    `.accessDenied` (SEGV_ACCERR).
// 3. No leaf yet: fill the page from the backing (do_anonymous_page,
//    do_shared_fault, do_cow_fault):
//    - private anonymous, read or execute: the shared zero page, read-only;
//    - private anonymous, write: a zeroed frame, marked exclusive;
//    - shared object: the object's page (allocated at its first touch);
//    - private file, read or execute (do_read_fault): the file's page-cache
//      frame (PageCache.swift), read-only, shared with every other mapping
//      of that page;
//    - private file, write (do_cow_fault): a private copy of the file's
//      page, marked exclusive; the cache frame is not touched;
//    - shared file (do_shared_fault): the page-cache frame, read-only (the
//      region can never write: Region invariant 3);
//    - for both file kinds a page wholly past the end of the file is
//      `.beyondEnd` (SIGBUS); the tail of the last page reads as zero.
// 4. A read-only leaf in a writable private region, write access (do_wp_page):
//    - the zero page: replaced by a zeroed frame;
//    - an exclusive frame, or one whose only reference is this leaf
//      (wp_can_reuse_anon_folio): reused in place, made writable: nothing
//      is copied or allocated;
//    - otherwise, and always for a page-cache frame (never written:
//      Linux's wp_page_copy for a file folio): copied into a new exclusive
//      frame that replaces the leaf; the old reference is dropped after
//      its map count.
// For the RSS counters: leaves of page-cache frames are file pages
// (Linux MM_FILEPAGES), of a shared object's frames shared memory
// (MM_SHMEMPAGES), all others anonymous (MM_ANONPAGES), copies of file
// pages included.
// 5. The leaf already allows the access: the TLB held a stale entry; the
//    page is invalidated (`.resolved(.spurious)`).
// Regions never change here (the fault path holds a read view, RegionRef),
// except that a private region's first fault gives it its reverse-map
// lineage first (Linux anon_vma_prepare: preparedForFault); otherwise only
// the page table, the frame counts, `residentPages` and the RSS counters
// (UserAddressSpace+Counters.swift) change.

/// What the fault path's page-table step did: its resolution, whether it
/// created a leaf, and the RSS counters the leaf counted in before and
/// counts in after (nil: none, or the zero page).
typealias FaultStep = (resolution: FaultResolution, createdLeaf: Bool, before: ResidentKind?, after: ResidentKind?)

extension UserAddressSpace {
    /// Makes the access `fault` describes possible if the regions allow it,
    /// or says why not. Contract: `tlb` is the TLB of the CPU that has this
    /// space loaded (or any, if none has: the invalidations are then moot).
    public mutating func resolve<TLB: TLBControl>(_ fault: PageFault, tlb: TLB) -> FaultResolution {
        let page = VirtualAddress(fault.address.raw & ~(pageSize - 1))
        guard page >= Self.userStart, page < Self.userEnd, let region = regionList.region(containing: page) else {
            return .notMapped
        }
        guard Self.allows(region.protection, fault.access) else { return .accessDenied }
        let view = RegionRef(preparedForFault(region, at: page))
        return resolve(fault, in: view, tlb: tlb)
    }

    /// `region` (which contains `page`) ready for a fault: a private
    /// region's first fault gives it its reverse-map lineage (Linux
    /// anon_vma_prepare, which takes its own lock, not the mmap write lock).
    mutating func preparedForFault(_ region: Region, at page: VirtualAddress) -> Region {
        guard region.lineage == nil && region.backing.isPrivate else { return region }
        var prepared = region
        let lineage = AnonLineage(member: identity)
        regionList.attach(lineage, toRegionContaining: page)
        prepared.lineage = lineage
        return prepared
    }

    /// Resolves `fault` as the region behind `view` (which contains its
    /// page, allows its access and is prepared: preparedForFault) says; the
    /// regions themselves are neither consulted nor changed (the read
    /// level, RegionViews.swift).
    /// Cost (the hot path of every fault): one page-table walk, shared by
    /// the lookup of the leaf and its installation (the cursor caches the
    /// page table), and no TLB invalidation when a leaf is created or only
    /// gains rights (PageTableCursor.setLeafProtection).
    mutating func resolve<TLB: TLBControl>(_ fault: PageFault, in view: borrowing RegionRef,
                                           tlb: TLB) -> FaultResolution {
        let page = VirtualAddress(fault.address.raw & ~(pageSize - 1))
        let region = view.region
        let frames = table.frames
        let memory = table.memory
        // The RSS counters change with the leaf's frame: `before` is the
        // kind the leaf counted in (nil: none or the zero page), `after` the
        // kind it counts in now, which the fix says (FaultFix.residentKind)
        // without another look at the frame.
        let outcome: FaultStep
        do {
            outcome = try table.edit(page..<page + pageSize, flushingWith: tlb) {
                [region] (cursor) throws(PagingError) -> FaultStep in
                guard let leaf = cursor.leaf() else {
                    let filled = try Self.fill(&cursor, region, page, fault.access, frames, memory: memory)
                    guard case .resolved(let fix) = filled else { return (filled, false, nil, nil) }
                    return (filled, true, nil, fix.residentKind)
                }
                if fault.access == .write && !leaf.isWritable {
                    let broken = try Self.breakCopyOnWrite(&cursor, leaf, region, frames, memory: memory)
                    // A reuse keeps the frame, and with it the counter.
                    guard case .resolved(let fix) = broken, fix != .reuse else { return (broken, false, nil, nil) }
                    return (broken, false, ResidentKind.of(leaf.address(at: .pageTable), frames), fix.residentKind)
                }
                cursor.invalidateStale()
                return (.resolved(.spurious), false, nil, nil)
            }
        } catch {
            return .outOfMemory
        }
        if outcome.createdLeaf { residentPages += 1 }
        counters.addResident(outcome.before, -1)
        counters.addResident(outcome.after)
        noteTouched(page..<page + pageSize)
        return outcome.resolution
    }

    /// True if a region with `protection` allows `access` (Linux access_error).
    static func allows(_ protection: VMProtection, _ access: MemoryAccess) -> Bool {
        switch access {
        case .write: return protection.contains(.write)
        case .execute: return protection.contains(.execute)
        case .read: return protection.allowsAccess
        }
    }

    /// Installs the first leaf of `page` from the region's backing (step 3).
    private static func fill(_ cursor: inout PageTableCursor<Memory, Frames>, _ region: Region,
                             _ page: VirtualAddress, _ access: MemoryAccess, _ frames: Frames,
                             memory: Memory) throws(PagingError) -> FaultResolution {
        let protection = region.protection.pageProtection
        let index = region.pageIndex(of: page)
        switch region.backing {
        case .privateAnonymous:
            if access != .write {
                var readOnly = protection
                readOnly.remove(.write)
                try cursor.map(frames.shareFrame(at: frames.zeroFrame), readOnly)
                return .resolved(.zeroPage)
            }
            guard let frame = frames.allocateFrame(kind: .user) else { return .outOfMemory }
            markExclusive(frame.address, region, index: index, frames)
            try cursor.map(frame, protection)
            return .resolved(.demandZero)
        case .shared(let object):
            guard index < object.pageCount else { return .beyondEnd }
            guard let frame = object.page(index) else { return .outOfMemory }
            try cursor.map(frames.shareFrame(at: frame), protection)
            return .resolved(.shared)
        case .privateFile(let file):
            guard index < file.pageCount else { return .beyondEnd }
            if access != .write { return try mapCachedPage(&cursor, file, index, protection, frames, memory: memory) }
            guard let frame = frames.allocateFrame(kind: .user) else { return .outOfMemory }
            // The same bytes as the cache frame's, from the file directly.
            file.copyPage(index, to: memory.pointer(to: frame.address))
            markExclusive(frame.address, region, index: index, frames)
            try cursor.map(frame, protection)
            return .resolved(.fileCopy)
        case .sharedFile(let file):
            guard index < file.pageCount else { return .beyondEnd }
            return try mapCachedPage(&cursor, file, index, protection, frames, memory: memory)
        }
    }

    /// Maps page `index` of `file`'s page cache read-only with otherwise
    /// `protection` (step 3, file reads and shared files).
    private static func mapCachedPage(_ cursor: inout PageTableCursor<Memory, Frames>, _ file: FileContents,
                                      _ index: UInt64, _ protection: PageProtection, _ frames: Frames,
                                      memory: Memory) throws(PagingError) -> FaultResolution {
        guard let cached = file.cachedPage(index, memory: memory) else { return .outOfMemory }
        var readOnly = protection
        readOnly.remove(.write)
        try cursor.map(frames.shareFrame(at: cached), readOnly)
        return .resolved(.file)
    }

    /// A write to the read-only leaf `leaf` of a region that allows writing (step 4).
    private static func breakCopyOnWrite(_ cursor: inout PageTableCursor<Memory, Frames>, _ leaf: PageTableEntry,
                                         _ region: Region, _ frames: Frames,
                                         memory: Memory) throws(PagingError) -> FaultResolution {
        let protection = region.protection.pageProtection
        let old = leaf.address(at: .pageTable)
        let index = region.pageIndex(of: cursor.position)
        if case .shared = region.backing {
            // Shared leaves are installed writable; nothing to copy.
            try cursor.setLeafProtection(protection)
            return .resolved(.shared)
        }
        // A shared file region never allows writing (Region invariant 3).
        precondition(region.backing.isPrivate, "a write fault in a shared file region")
        let isCacheFrame = region.backing.file.map { frames.reverseMapping(of: old).owner == $0.identity } ?? false
        if old != frames.zeroFrame && !isCacheFrame
            && (frames.flags(of: old).contains(.anonExclusive) || frames.referenceCount(of: old) == 1) {
            // "Ok, we've got the only folio reference from our mapping" (wp_can_reuse_anon_folio).
            markExclusive(old, region, index: index, frames)
            try cursor.setLeafProtection(protection)
            return .resolved(.reuse)
        }
        let fix: FaultFix = old == frames.zeroFrame ? .demandZero : .copyOnWrite
        // A copy overwrites the whole frame: no need to zero it first.
        let allocated = fix == .demandZero ? frames.allocateFrame(kind: .user)
            : frames.allocateFrameForOverwrite(kind: .user)
        guard let copy = allocated else { return .outOfMemory }
        if fix == .copyOnWrite {
            // SAFETY: both are whole frames reached through the physical window.
            copyPage(from: memory.pointer(to: old), to: memory.pointer(to: copy.address))
        }
        markExclusive(copy.address, region, index: index, frames)
        let released = try cursor.replace(with: copy, protection)
        frames.releaseFrame(released)
        return .resolved(fix)
    }

    /// Marks a frame that exactly one private leaf of `region` maps
    /// (PageAnonExclusive), and anonymous for the RSS counters (PageAnon),
    /// and records its reverse mapping: the region's lineage and the page's
    /// index (Linux folio_add_new_anon_rmap).
    static func markExclusive(_ frame: PhysicalAddress, _ region: Region, index: UInt64, _ frames: Frames) {
        frames.setFlags(frames.flags(of: frame).union([.anonExclusive, .anonymous]), of: frame)
        frames.setReverseMapping(of: frame, owner: region.lineage?.identity ?? 0, index: index)
    }

    /// Copies one 4 KiB page: memcpy, whose `rep movsq` counts 512 under
    /// QEMU's icount (a `rep movsb` would count 4,096; the element loop
    /// `update(from:count:)` compiled to was a call per 8 bytes).
    static func copyPage(from source: UnsafeMutableRawPointer, to destination: UnsafeMutableRawPointer) {
        // SAFETY: both pointers reach a whole frame, and frames never overlap.
        destination.copyMemory(from: source, byteCount: Int(pageSize))
    }
}

extension PageTableEntry {
    /// This leaf with its protection bits replaced by `protection`'s
    /// (address, ownership, A and D kept).
    func with(_ protection: PageProtection) -> PageTableEntry {
        PageTableEntry(raw: (raw & ~PageTableEntry.protectionBits) | protection.entryBits)
    }
}
