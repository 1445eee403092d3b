// Region: one contiguous run of a process's address space with one
// protection, one purpose and one backing (Linux's vm_area_struct,
// Zircon's VmMapping).
//
// Design: a plain value; the list of a space's regions and its invariants
// live in RegionList.swift. A region records what Linux's VMA records:
// - its backing (private anonymous, a shared memory object, a private or
//   a shared file: vm_file plus VM_SHARED);
// - `pageOffset`, Linux's vm_pgoff: the page index, in the backing, of the
//   region's first page (for private anonymous memory the virtual page
//   number at creation, as Linux does, so that adjacent anonymous regions
//   have contiguous offsets exactly when their addresses are);
// - `protection` (VM_READ/VM_WRITE/VM_EXEC) and `mayProtection`
//   (VM_MAYREAD/VM_MAYWRITE/VM_MAYEXEC: what mprotect may raise it to);
// - `kind`, which stands for the rest of vm_flags that matter here (the
//   stack is VM_GROWSDOWN; reports name the image, heap and stack).
// Splitting a region keeps every page's index; merging requires it.
//
// Invariants (every Region value):
// 1. The range is non-empty and page aligned at both ends.
// 2. `protection` is a subset of `mayProtection` (Linux keeps
//    VM_WRITE => VM_MAYWRITE: do_mmap clears VM_MAYWRITE only without
//    VM_WRITE, mprotect refuses what VM_MAY* forbids).
// 3. A shared file region has no `.write` in `mayProtection`: the archive's
//    files are read-only (do_mmap clears VM_MAYWRITE without FMODE_WRITE),
//    so its leaves are never writable and its frames are the page cache's.

/// What a region is for; used for reports and for brk/stack policy.
public enum RegionKind: Equatable, Sendable {
    /// An ELF segment: its file part (a private file mapping) or its bss
    /// (private anonymous).
    case image
    /// The program break's area (brk).
    case heap
    /// The main thread's stack.
    case stack
    /// mmap.
    case anonymous

    /// True if two adjacent regions of this kind may become one (Linux
    /// vma_merge merges compatible VMAs: an image's pieces with contiguous
    /// file offsets too, after mprotect made them alike). The stack stays
    /// distinct (VM_GROWSDOWN differs from every neighbour's flags).
    public var isMergeable: Bool { self != .stack }
}

/// Where a region's pages come from when they are first touched.
public enum RegionBacking {
    /// Private anonymous memory: zero-filled on demand, copied on write
    /// after fork (MAP_PRIVATE|MAP_ANONYMOUS, brk, the stack, ELF bss).
    case privateAnonymous
    /// A shared memory object (MAP_SHARED|MAP_ANONYMOUS): every mapping of
    /// it, in any process, sees the same frames.
    case shared(SharedMemory)
    /// A private mapping of a file (MAP_PRIVATE of an archive file, ELF
    /// segments): reads map the file's page-cache frame read-only, a write
    /// gives the mapping its own copy (Linux do_read_fault, do_cow_fault).
    case privateFile(FileContents)
    /// A shared mapping of a file (MAP_SHARED): every access maps the
    /// page-cache frame, read-only (invariant 3: the files are read-only).
    case sharedFile(FileContents)

    /// True for the backings whose writable pages are private to one
    /// mapping (copy-on-write after fork).
    public var isPrivate: Bool {
        switch self {
        case .privateAnonymous, .privateFile: return true
        case .shared, .sharedFile: return false
        }
    }

    /// The file behind a file mapping, private or shared (vm_file).
    public var file: FileContents? {
        switch self {
        case .privateFile(let file), .sharedFile(let file): return file
        case .privateAnonymous, .shared: return nil
        }
    }

    /// The same backing object (identity, not contents), shared the same way.
    public func isSame(as other: RegionBacking) -> Bool {
        switch (self, other) {
        case (.privateAnonymous, .privateAnonymous): return true
        case (.shared(let a), .shared(let b)): return a === b
        case (.privateFile(let a), .privateFile(let b)): return a === b
        case (.sharedFile(let a), .sharedFile(let b)): return a === b
        default: return false
        }
    }

    /// The reverse-map identity of the object whose frames the region maps
    /// as they are (FrameInfo.owner): a shared object, or a file's page
    /// cache; nil for private anonymous memory.
    public var objectIdentity: UInt64? {
        switch self {
        case .privateAnonymous: return nil
        case .shared(let object): return object.identity
        case .privateFile(let file), .sharedFile(let file): return file.identity
        }
    }

    /// A short name for reports.
    public var name: StaticString {
        switch self {
        case .privateAnonymous: return "anonymous"
        case .shared: return "shared"
        case .privateFile: return "file"
        case .sharedFile: return "shared file"
        }
    }
}

public struct Region {
    public var range: Range<VirtualAddress>
    public var protection: VMProtection
    /// What `protection` may become (VM_MAY*; invariant 2).
    public var mayProtection: VMProtection
    public var kind: RegionKind
    public var backing: RegionBacking
    /// The backing's page index of `start` (Linux vm_pgoff).
    public var pageOffset: UInt64
    /// The reverse map's lineage of a private region's pages (anon_vma):
    /// nil until the first fault in the region attaches one (Linux
    /// anon_vma_prepare), and always nil for shared regions, whose object
    /// is their reverse map.
    public var lineage: AnonLineage?

    /// Contract: `range` is non-empty and page aligned at both ends, and
    /// `protection` lies within `mayProtection` (invariants 1 and 2).
    /// `pageOffset` defaults to the first page's number, which is right for
    /// private anonymous memory; `mayProtection` to everything (Linux: a
    /// new VMA gets VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC, which the file's
    /// open mode then narrows: see NewRegion).
    public init(range: Range<VirtualAddress>, protection: VMProtection, kind: RegionKind,
                backing: RegionBacking = .privateAnonymous, pageOffset: UInt64? = nil,
                mayProtection: VMProtection = .all, lineage: AnonLineage? = nil) {
        precondition(!range.isEmpty && range.lowerBound.isPageAligned && range.upperBound.isPageAligned,
                     "a region is a non-empty, page-aligned range")
        precondition(mayProtection.isSuperset(of: protection), "a region's protection exceeds its may-protection")
        self.range = range
        self.protection = protection
        self.mayProtection = mayProtection
        self.kind = kind
        self.backing = backing
        self.pageOffset = pageOffset ?? range.lowerBound.pageNumber
        self.lineage = lineage
    }

    public var start: VirtualAddress { range.lowerBound }
    public var end: VirtualAddress { range.upperBound }
    /// The number of pages the region spans.
    public var pageCount: Int { Int((end.raw - start.raw) / pageSize) }

    /// The backing's page index of the page containing `address`.
    /// Contract: `address` lies in the region.
    public func pageIndex(of address: VirtualAddress) -> UInt64 {
        pageOffset + (address.raw - start.raw) / pageSize
    }

    /// The part of this region inside `bounds`, or nil if they do not overlap.
    public func clipped(to bounds: Range<VirtualAddress>) -> Region? {
        let start = Swift.max(self.start, bounds.lowerBound), end = Swift.min(self.end, bounds.upperBound)
        guard start < end else { return nil }
        return with(range: start..<end)
    }

    /// The same region over `range`, which must lie inside this one: every
    /// page keeps its backing index.
    public func with(range: Range<VirtualAddress>) -> Region {
        Region(range: range, protection: protection, kind: kind, backing: backing,
               pageOffset: pageIndex(of: range.lowerBound), mayProtection: mayProtection, lineage: lineage)
    }

    /// This region merged with `next` (`canMerge(with: next)`): the page
    /// offset stays, and the lineage is whichever side has one.
    public func merged(with next: Region) -> Region {
        precondition(canMerge(with: next), "merging regions that cannot merge")
        var region = self
        region.range = start..<next.end
        region.lineage = lineage ?? next.lineage
        return region
    }

    /// The region with the same range and backing and protection `protection`.
    /// Contract: `mayAllow(protection)` (invariant 2).
    public func with(protection: VMProtection) -> Region {
        precondition(mayAllow(protection), "raising a protection past the region's may-protection")
        var region = self
        region.protection = protection
        return region
    }

    /// True if mprotect may give the region `protection` (Linux
    /// do_mprotect_pkey: `(newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS`
    /// must be empty, i.e. every VM_READ/WRITE/EXEC asked for has its VM_MAY*).
    public func mayAllow(_ protection: VMProtection) -> Bool {
        mayProtection.isSuperset(of: protection)
    }

    /// True if `next` starts where this region ends and both can be one
    /// region (Linux is_mergeable_vma: the same backing object, contiguous
    /// offsets, the same flags: protection, may-protection and kind; and
    /// is_mergeable_anon_vma: the same lineage, or no lineage yet on one
    /// side, i.e. no page faulted there).
    public func canMerge(with next: Region) -> Bool {
        end == next.start && kind == next.kind && kind.isMergeable && protection == next.protection
            && mayProtection == next.mayProtection
            && backing.isSame(as: next.backing) && pageIndex(of: VirtualAddress(end.raw - pageSize)) + 1 == next.pageOffset
            && (lineage == nil || next.lineage == nil || lineage === next.lineage)
    }
}

/// Equal: the same mapping as user space sees it (range, protection,
/// may-protection, kind, backing object, offset). The lineage is the
/// reverse map's bookkeeping and is left out.
extension Region: Equatable {
    public static func == (a: Region, b: Region) -> Bool {
        a.range == b.range && a.protection == b.protection && a.mayProtection == b.mayProtection
            && a.kind == b.kind && a.backing.isSame(as: b.backing) && a.pageOffset == b.pageOffset
    }
}
