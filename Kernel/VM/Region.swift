// Region: one contiguous run of a process's address space with one
// protection, one purpose and one backing (Linux's vm_area_struct,
// Zircon's VmMapping).
//
// Design: a plain value; the list of a space's regions and its invariants
// live in RegionList.swift. Bounds are page aligned and the range is never
// empty. `pageOffset` is Linux's vm_pgoff: the page index, in the backing,
// of the region's first page (for private anonymous memory the virtual
// page number at creation, as Linux does, so that adjacent anonymous
// regions have contiguous offsets exactly when their addresses are).
// Splitting a region keeps every page's index; merging requires it.

/// What a region is for; used for reports and for brk/stack policy.
public enum RegionKind: Equatable, Sendable {
    /// An ELF segment (never merged with a neighbour: each is its own mapping).
    case image
    /// The program break's area (brk).
    case heap
    /// The main thread's stack.
    case stack
    /// mmap.
    case anonymous

    /// True if two adjacent regions of this kind may become one (Linux
    /// vma_merge merges compatible VMAs; images and the stack stay
    /// distinct so that reports can name them).
    public var isMergeable: Bool { self == .anonymous || self == .heap }
}

/// Where a region's pages come from when they are first touched.
public enum RegionBacking {
    /// Private anonymous memory: zero-filled on demand, copied on write
    /// after fork (MAP_PRIVATE|MAP_ANONYMOUS, brk, the stack, ELF segments).
    case privateAnonymous
    /// A shared memory object (MAP_SHARED|MAP_ANONYMOUS): every mapping of
    /// it, in any process, sees the same frames.
    case shared(SharedMemory)
    /// A private copy of a file's pages (MAP_PRIVATE of an archive file):
    /// each page is copied from the file at its first touch.
    case privateFile(FileContents)

    /// True for the backings whose writable pages are private to one
    /// mapping (copy-on-write after fork).
    public var isPrivate: Bool {
        if case .shared = self { return false }
        return true
    }

    /// The same backing object (identity, not contents).
    public func isSame(as other: RegionBacking) -> Bool {
        switch (self, other) {
        case (.privateAnonymous, .privateAnonymous): return true
        case (.shared(let a), .shared(let b)): return a === b
        case (.privateFile(let a), .privateFile(let b)): return a === b
        default: return false
        }
    }

    /// A short name for reports.
    public var name: StaticString {
        switch self {
        case .privateAnonymous: return "anonymous"
        case .shared: return "shared"
        case .privateFile: return "file"
        }
    }
}

public struct Region {
    public var range: Range<VirtualAddress>
    public var protection: VMProtection
    public var kind: RegionKind
    public var backing: RegionBacking
    /// The backing's page index of `start` (Linux vm_pgoff).
    public var pageOffset: UInt64
    /// The reverse map's lineage of a private region's pages (anon_vma):
    /// nil until the first fault in the region attaches one (Linux
    /// anon_vma_prepare), and always nil for shared regions, whose object
    /// is their reverse map.
    public var lineage: AnonLineage?

    /// Contract: `range` is non-empty and page aligned at both ends.
    /// `pageOffset` defaults to the first page's number, which is right for
    /// private anonymous memory.
    public init(range: Range<VirtualAddress>, protection: VMProtection, kind: RegionKind,
                backing: RegionBacking = .privateAnonymous, pageOffset: UInt64? = nil,
                lineage: AnonLineage? = nil) {
        precondition(!range.isEmpty && range.lowerBound.isPageAligned && range.upperBound.isPageAligned,
                     "a region is a non-empty, page-aligned range")
        self.range = range
        self.protection = protection
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
               pageOffset: pageIndex(of: range.lowerBound), lineage: lineage)
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
    public func with(protection: VMProtection) -> Region {
        var region = self
        region.protection = protection
        return region
    }

    /// True if `next` starts where this region ends and both can be one
    /// region (Linux is_mergeable_vma: same backing, contiguous offsets,
    /// same flags and protection; and is_mergeable_anon_vma: the same
    /// lineage, or no lineage yet on one side, i.e. no page faulted there).
    public func canMerge(with next: Region) -> Bool {
        end == next.start && kind == next.kind && kind.isMergeable && protection == next.protection
            && backing.isSame(as: next.backing) && pageIndex(of: VirtualAddress(end.raw - pageSize)) + 1 == next.pageOffset
            && (lineage == nil || next.lineage == nil || lineage === next.lineage)
    }
}

/// Equal: the same mapping as user space sees it (range, protection, kind,
/// backing object, offset). The lineage is the reverse map's bookkeeping
/// and is left out.
extension Region: Equatable {
    public static func == (a: Region, b: Region) -> Bool {
        a.range == b.range && a.protection == b.protection && a.kind == b.kind
            && a.backing.isSame(as: b.backing) && a.pageOffset == b.pageOffset
    }
}
