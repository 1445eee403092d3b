// UserAddressSpace: a process's view of memory: its regions (VMAs) over a
// private PageTable whose upper PML4 slots are the kernel's, shared.
//
// Layout (UserMemoryLayout): nothing below `userStart` (64 KiB, Linux's
// default vm.mmap_min_addr, so that NULL dereferences fault); the image and
// the program break from the ELF's addresses upwards; mmap areas top-down
// below `mmapTop`; a 1 GiB gap; the stack just below `stackTop`; one
// unmapped page; then the kernel half from PML4 slot 255.
//
// Invariants (kept by every public operation, on success and on failure):
// 1. `regions` is sorted by address, its ranges are disjoint, non-empty,
//    page aligned, inside [userStart, userEnd), and no two neighbours could
//    be merged (Region.canMerge: adjacent mergeable regions with the same
//    backing, contiguous page offsets, the same protection, may-protection
//    and kind are one region, as Linux's vma_merge makes them), and there
//    are at most RegionList.maxCount (65530, Linux's vm.max_map_count) of
//    them: an operation that would leave more fails with `.tooManyRegions`
//    (ENOMEM) before it changes anything. RegionList.swift enforces it,
//    over an O(log n) index (RegionTree.swift); Region.swift has each
//    region's own.
// 2. Regions are the truth, the page table is a cache of them, filled on
//    demand by the fault path (UserAddressSpace+Fault.swift), the only code
//    that creates user leaves (mremap moves existing ones, with their
//    frames, UserAddressSpace+Remap.swift). Every leaf is a 4 KiB user
//    leaf inside a region whose protection allows what the leaf allows;
//    there are no other leaves in the owned slots. PROT_NONE regions have
//    no present leaves, only parked ones: non-present entries that keep
//    the frame (Linux _PAGE_PROTNONE; PageTableEntry.swift), made by
//    mprotect to PROT_NONE and made present again by mprotect back (or
//    moved by mremap). Parked leaves lie in PROT_NONE regions only.
// 3. Every leaf, present or parked, owns one frame reference and one map
//    count (the page-table cursor pairs them, see FrameProvider). A frame
//    marked anonExclusive is mapped by exactly one leaf (so unparking may
//    make it writable). A writable leaf of a private region maps a frame
//    marked anonExclusive. A
//    read-only leaf of a writable private region is copy-on-write: the
//    zero page, or a frame fork shared, or one fork shared and whose other
//    sharers have gone (reused in place at the next write), or a file's
//    page-cache frame (never written: a write copies it). Leaves of
//    shared file regions map page-cache frames, read-only (PageCache.swift).
// 4. `residentPages` is the number of leaves (zero-page leaves and parked
//    leaves included: Linux's RSS counts PROT_NONE pages too).
// 5. `breakStart <= breakEnd`; both are 0 until `setInitialBreak`.
// 6. The table owns PML4 slots 0..<255 only; the kernel half is shared by
//    reference and never freed here.
// 7. Every page-table change goes through `table.edit(_:flushingWith:)`
//    with the caller's TLB, so the CPU that has this space loaded never
//    keeps a stale translation. For a space that is not loaded the
//    invalidations are harmless.
// 8. `counters` are exact: the pages of the regions by kind, and the
//    leaves by the kind of frame they map (MemoryAccounting.swift).
//    Region edits go through commitRegion/removeRegions/replaceRegions
//    (UserAddressSpace+Counters.swift), which keep the page counts.
// 9. Every operation that adds pages checks `limits` first and throws
//    `.limitExceeded` with nothing changed (UserAddressSpace+Limits.swift).
// VMInvariantChecker.swift checks 2-4 and 8, and the frame counts across spaces.
//
// Locking (the typed levels are in RegionViews.swift). The type says
// which lock an operation stands under:
// - the space's mmap lock, read: a `borrowing UserAddressSpace` (lookups:
//   regions, region(containing:), translate, withRegion);
// - the space's mmap lock, write: `inout` (every `mutating` operation:
//   map, unmap, protect, remap, brk, fork, teardown), exclusive by Swift's
//   law of exclusivity;
// - one region, read (VmaRef): a `borrowing RegionRef`, which the fault
//   path gets: it cannot change the region (deviation: `resolve` is
//   mutating, because the page-table cache and the counters are part of
//   this value; Linux faults under the read lock, the page-table lock
//   guarding the ptes);
// - one region, write: an `inout RegionMut` (mprotect's pieces,
//   withRegionForWriting);
// - a region not yet inserted (VmaNew): an owned NewRegion, consumed by
//   its commit.
// Lock order, for when there is more than one CPU: mmap lock, region
// lock, page-table lock (PageTable.edit), frame allocator lock. Today one
// CPU runs every syscall and fault with interrupts off and never blocks,
// which serialises them; these are the places the real locks will go.
//
// Linux behaviour followed: mmap (mm/mmap.c do_mmap, MAP_FIXED replacing
// old mappings, the hint, top-down search as unmapped_area_topdown), munmap
// (holes are not an error, regions split), mprotect (mm/mprotect.c: ENOMEM
// if any page is unmapped, checked before any change; split and merge;
// never making a shared copy-on-write page writable, can_change_pte_writable;
// PROT_NONE keeps the pages in protnone entries, change_protection),
// brk (returns the new break, or the old one on failure; shrinking unmaps,
// so re-grown pages read as zero), fork (kernel/fork.c dup_mmap and
// copy_present_pte: private pages shared read-only, shared regions not
// copied), mremap (mm/mremap.c: page-table entries move, pages are never
// copied, see UserAddressSpace+Remap.swift), faults (mm/memory.c, see
// UserAddressSpace+Fault.swift), file mappings (mm/filemap.c: one
// page-cache frame per file page, shared by every reader, PageCache.swift),
// may-permissions (VM_MAY*: do_mmap clears VM_MAYWRITE for a shared
// mapping of a file opened read-only, mprotect refuses what VM_MAY*
// forbids with EACCES; NewRegion.swift, UserAddressSpace+Permissions.swift).
//
// Known deviations:
// - `map` refuses a MAP_FIXED range outside [userStart, userEnd) with
//   invalidArgument; the mmap syscall checks first and returns Linux's
//   ENOMEM above TASK_SIZE and EPERM below mmap_min_addr.
// - The region cap (invariant 1) is exact and all-or-nothing: Linux's
//   do_mmap checks `map_count > max_map_count`, so mmap can reach 65531
//   there, and its mprotect/munmap refuse at the first split past the
//   limit, possibly after an earlier split of the same call was made; here
//   only the resulting count matters and a refused call changes nothing.
// - No commit accounting (overcommit is unlimited, as with MAP_NORESERVE;
//   only RLIMIT_AS and RLIMIT_DATA bound what may be mapped): a fault that
//   finds no frame kills the faulting task (Linux runs the OOM killer,
//   which may pick another).

/// Where space identities come from (non-generic: one counter for all spaces).
public enum SpaceIdentity {
    nonisolated(unsafe) private static var last: UInt64 = 0
    static func next() -> UInt64 {
        last += 1
        return last
    }
}

/// The fixed layout of every user address space (non-generic, so that
/// kernel code can name it without the space's type parameters).
public enum UserMemoryLayout {
    /// Nothing may be mapped below this (Linux's default mmap_min_addr).
    public static var userStart: VirtualAddress { VirtualAddress(0x1_0000) }
    /// The first address of PML4 slot 255, the first kernel slot.
    public static var userEnd: VirtualAddress { VirtualAddress(0x0000_7f80_0000_0000) }
    /// The end of the stack: one unmapped page below `userEnd`.
    public static var stackTop: VirtualAddress { VirtualAddress(userEnd.raw - pageSize) }
    /// The fixed size of the main stack region.
    public static var stackSize: UInt64 { 128 << 10 }
    /// The unmapped distance between the mmap area and the stack.
    public static var stackGap: UInt64 { 1 << 30 }
    /// mmap searches top-down from here.
    public static var mmapTop: VirtualAddress { VirtualAddress(stackTop.raw - stackSize - stackGap) }
    /// Where user mappings may lie.
    public static var userRange: Range<VirtualAddress> { userStart..<userEnd }
    /// The stack region's range.
    public static var stackRange: Range<VirtualAddress> { VirtualAddress(stackTop.raw - stackSize)..<stackTop }
}

public struct UserAddressSpace<Memory: PhysicalMemory, Frames: FrameProvider>: ~Copyable {
    /// The page table: load `table.root` into CR3 to run in this space.
    /// Change it only through this type's operations (invariant 2).
    public internal(set) var table: PageTable<Memory, Frames>
    /// The regions (invariant 1).
    var regionList = RegionList()
    /// This space's identity in the reverse map (AnonLineage.members):
    /// unique among all spaces ever created.
    public let identity: UInt64 = SpaceIdentity.next()
    /// The start of the program break's area (page aligned), 0 until set.
    public internal(set) var breakStart = VirtualAddress(0)
    /// The program break: what brk(0) returns.
    public internal(set) var breakEnd = VirtualAddress(0)
    /// The number of leaves, parked ones included (invariant 4).
    public internal(set) var residentPages = 0
    /// Mapped and resident pages by kind (invariant 8).
    public internal(set) var counters = MemoryCounters()
    /// RLIMIT_AS and RLIMIT_DATA, as the task set them (invariant 9).
    public var limits = MemoryLimits.unlimited
    /// The pages changed since the last `takeTouched()`: the range the
    /// invariant checker re-examines after a syscall or fault.
    public internal(set) var touched: Range<VirtualAddress>? = nil

    /// The regions, sorted by address. O(n): a copy out of the index.
    public var regions: [Region] { regionList.regions }
    /// The number of regions (Linux mm->map_count). O(1).
    public var regionCount: Int { regionList.count }

    /// The first region ending above `address` (containing it, or the next
    /// one), or nil. O(log n): readers that show only the first few regions
    /// (the gdb view, on every timer tick) step with it instead of copying
    /// all of them out.
    public func firstRegion(endingAbove address: VirtualAddress) -> Region? {
        regionList.first(endingAbove: address)
    }

    public static var userStart: VirtualAddress { UserMemoryLayout.userStart }
    public static var userEnd: VirtualAddress { UserMemoryLayout.userEnd }
    public static var stackTop: VirtualAddress { UserMemoryLayout.stackTop }
    public static var stackSize: UInt64 { UserMemoryLayout.stackSize }
    public static var mmapTop: VirtualAddress { UserMemoryLayout.mmapTop }

    /// An empty space (no regions) sharing `kernel`'s pinned PML4 slots.
    /// Contract: `kernel` pins a suffix of the PML4 starting at or above
    /// `userEnd`'s slot. Throws `.outOfMemory` with nothing allocated.
    public init(sharingKernelHalfOf kernel: borrowing PageTable<Memory, Frames>) throws(VMError) {
        precondition(UInt64(kernel.pinnedSlots.lowerBound) * PagingLevel.pml4.entryCoverage >= Self.userEnd.raw,
                     "the shared kernel half overlaps user space")
        do {
            table = try PageTable(sharingKernelHalfOf: kernel)
        } catch {
            throw .outOfMemory
        }
    }

    /// Adds `range` to the pages changed since the last check.
    mutating func noteTouched(_ range: Range<VirtualAddress>) {
        guard !range.isEmpty else { return }
        if let old = touched {
            touched = Swift.min(old.lowerBound, range.lowerBound)..<Swift.max(old.upperBound, range.upperBound)
        } else {
            touched = range
        }
    }

    /// The pages changed since the last call, and forgets them.
    public mutating func takeTouched() -> Range<VirtualAddress>? {
        defer { touched = nil }
        return touched
    }

    /// `value` rounded up to a page boundary, or nil if that overflows.
    static func pageAlignedUp(_ value: UInt64) -> UInt64? {
        let (sum, overflow) = value.addingReportingOverflow(pageSize - 1)
        return overflow ? nil : sum & ~(pageSize - 1)
    }

    /// True if `length` bytes from `start` lie inside [userStart, userEnd).
    static func isUserRange(start: UInt64, length: UInt64) -> Bool {
        start >= userStart.raw && start <= userEnd.raw && length <= userEnd.raw - start
    }
}
