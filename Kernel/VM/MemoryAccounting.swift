// Memory accounting of one address space: what it maps and what is
// resident, by kind (Linux mm_struct's total_vm, data_vm, stack_vm and
// rss_stat; Asterinas `RssType`), and the limits mmap, brk, mprotect and
// mremap must respect (RLIMIT_AS, RLIMIT_DATA: Linux may_expand_vm in
// mm/mmap.c).
//
// Invariants (UserAddressSpace.swift invariant 8; VMInvariantChecker
// recounts them in every full check):
// 1. `totalPages` is the number of pages in regions; `dataPages` those of
//    private writable regions that are not the stack (is_data_mapping);
//    `stackPages` those of the stack (is_stack_mapping).
// 2. `anonymousPages`, `filePages` and `sharedPages` count the leaves by
//    the kind of frame they map (`ResidentKind`); zero-page leaves count
//    in none (Linux maps the zero page as a special pte that no counter
//    sees), so their sum is at most `residentPages`.
//
// Where they change: region edits go through the accounted helpers of
// UserAddressSpace+Counters.swift (commitRegion, removeRegions,
// replaceRegions); leaves change in the fault path, discardPages and fork.
// For work in progress elsewhere: mremap moves leaves without changing
// RSS, but its region edits must use those helpers (or fix the mapped
// counts by hand) and its growth must pass checkMappingGrowth first;
// PROT_NONE pages that keep their frame stay in RSS, as on Linux, so a
// parked (non-present) entry must keep counting, and the checker's
// recount must see it.
// The file counter stays 0 until there is a page cache: private file
// pages are copies today, marked anonymous.

/// What a space maps and holds, in pages (Linux mm->total_vm, data_vm,
/// stack_vm, and MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES).
public struct MemoryCounters: Equatable, Sendable {
    /// Pages in regions, whatever their protection (total_vm).
    public var totalPages = 0
    /// Pages of private writable regions other than the stack (data_vm).
    public var dataPages = 0
    /// Pages of the stack region (stack_vm).
    public var stackPages = 0
    /// Leaves mapping anonymous frames: private pages, written or copied (MM_ANONPAGES).
    public var anonymousPages = 0
    /// Leaves mapping file frames: the page cache (MM_FILEPAGES).
    public var filePages = 0
    /// Leaves mapping pages of shared memory objects (MM_SHMEMPAGES).
    public var sharedPages = 0

    public init() {}

    /// The resident set in pages (Linux get_mm_rss: the three RSS counters).
    public var residentSetPages: Int { anonymousPages + filePages + sharedPages }

    /// Adds `count` to the RSS counter of `kind` (nil: the zero page, counted nowhere).
    mutating func addResident(_ kind: ResidentKind?, _ count: Int = 1) {
        switch kind {
        case .anonymous?: anonymousPages += count
        case .file?: filePages += count
        case .shared?: sharedPages += count
        case nil: break
        }
    }

    /// These mapped-page counts with the RSS counts of `resident` (fork:
    /// the child maps what the parent maps, but holds only what it was given).
    func withResident(of resident: MemoryCounters) -> MemoryCounters {
        var counters = self
        counters.anonymousPages = resident.anonymousPages
        counters.filePages = resident.filePages
        counters.sharedPages = resident.sharedPages
        return counters
    }

    /// Adds `sign` times `region`'s pages to the counters its kind belongs
    /// to (Linux vm_stat_account).
    mutating func addRegion(_ region: Region, sign: Int = 1) {
        let pages = sign * region.pageCount
        totalPages += pages
        if region.isStackMapping {
            stackPages += pages
        } else if region.isDataMapping {
            dataPages += pages
        }
    }
}

/// The kind of frame a leaf maps, for the RSS counters (Linux mm_counter:
/// folio_test_anon, then shmem_mapping, else a file).
public enum ResidentKind: Equatable, Sendable {
    case anonymous
    case file
    case shared

    /// The kind of `frame`, or nil for the zero page: anonymous if a
    /// private fault made it (FrameFlags.anonymous), a shared object's
    /// page if the object marked it (FrameFlags.sharedMemory), else a file
    /// page (the page cache's frames carry neither mark).
    static func of<Frames: FrameProvider>(_ frame: PhysicalAddress, _ frames: Frames) -> ResidentKind? {
        if frame == frames.zeroFrame { return nil }
        let flags = frames.flags(of: frame)
        if flags.contains(.anonymous) { return .anonymous }
        if flags.contains(.sharedMemory) { return .shared }
        return .file
    }
}

extension FaultFix {
    /// The RSS counter the faulting page counts in once this fix is made
    /// (the fault path's accounting, UserAddressSpace+Fault.swift): a new
    /// or copied private frame is anonymous, a shared object's page shared,
    /// a page-cache frame file, the zero page none. `.reuse` and
    /// `.spurious` change no counter (nil; the caller skips them).
    var residentKind: ResidentKind? {
        switch self {
        case .zeroPage, .reuse, .spurious: return nil
        case .demandZero, .copyOnWrite, .fileCopy: return .anonymous
        case .shared: return .shared
        case .file: return .file
        }
    }
}

extension Region {
    /// Linux is_stack_mapping: VM_STACK (the main stack; this kernel has
    /// no MAP_GROWSDOWN).
    public var isStackMapping: Bool { kind == .stack }

    /// Linux is_data_mapping: VM_WRITE without VM_SHARED or VM_STACK, i.e.
    /// private writable memory: heap, bss and data segments, private
    /// writable mmap (RLIMIT_DATA caps these).
    public var isDataMapping: Bool {
        protection.contains(.write) && backing.isPrivate && !isStackMapping
    }
}

/// The memory limits a space enforces, in bytes (the task's RLIMIT_AS and
/// RLIMIT_DATA, mirrored here by setrlimit/prlimit64, fork and exec).
/// `UInt64.max` is RLIM_INFINITY. Linux compares page counts with the
/// limit shifted right by PAGE_SHIFT, so a limit that is not a multiple
/// of the page size rounds down.
public struct MemoryLimits: Equatable, Sendable {
    /// RLIMIT_AS's soft limit: what `totalPages` may reach.
    public var addressSpace: UInt64
    /// RLIMIT_DATA's soft limit: what `dataPages` may reach, and what brk
    /// may grow the heap to (check_data_rlimit).
    public var data: UInt64
    /// RLIMIT_DATA's hard limit: with a soft limit of 0 it is the real one
    /// (Linux's "Workaround for Valgrind" in may_expand_vm).
    public var dataMaximum: UInt64

    public init(addressSpace: UInt64 = .max, data: UInt64 = .max, dataMaximum: UInt64 = .max) {
        self.addressSpace = addressSpace
        self.data = data
        self.dataMaximum = dataMaximum
    }

    /// The soft limits of RLIMIT_AS and RLIMIT_DATA, and RLIMIT_DATA's hard one.
    public init(_ limits: ResourceLimits) {
        self.init(addressSpace: limits[.addressSpace].current, data: limits[.data].current,
                  dataMaximum: limits[.data].maximum)
    }

    /// No limit at all: every new space starts so (Linux's INIT_RLIMITS
    /// give RLIMIT_AS and RLIMIT_DATA RLIM_INFINITY).
    public static var unlimited: MemoryLimits { MemoryLimits() }

    /// `bytes` as whole pages (rlimit(...) >> PAGE_SHIFT).
    static func pages(_ bytes: UInt64) -> UInt64 { bytes >> pageShift }
}
