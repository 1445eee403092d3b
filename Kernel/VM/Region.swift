// Region: one contiguous run of a process's address space with one
// protection and one purpose (Linux's vm_area_struct, Zircon's VmMapping).
//
// Design: a plain value; the list of a space's regions and its invariants
// live in RegionList.swift. Bounds are page aligned and the range is never
// empty.

/// What a region holds; used to decide merges and for reports.
public enum RegionKind: Equatable, Sendable {
    /// An ELF segment (never merged with a neighbour: each is its own mapping).
    case image
    /// The program break's area (brk).
    case heap
    /// The main thread's stack.
    case stack
    /// mmap(MAP_ANONYMOUS).
    case anonymous

    /// True if two adjacent regions of this kind with equal protections
    /// may become one (Linux vma_merge merges anonymous VMAs; images and
    /// the stack stay distinct so that reports can name them).
    public var isMergeable: Bool { self == .anonymous || self == .heap }
}

public struct Region: Equatable {
    public var range: Range<VirtualAddress>
    public var protection: VMProtection
    public var kind: RegionKind

    /// Contract: `range` is non-empty and page aligned at both ends.
    public init(range: Range<VirtualAddress>, protection: VMProtection, kind: RegionKind) {
        precondition(!range.isEmpty && range.lowerBound.isPageAligned && range.upperBound.isPageAligned,
                     "a region is a non-empty, page-aligned range")
        self.range = range
        self.protection = protection
        self.kind = kind
    }

    public var start: VirtualAddress { range.lowerBound }
    public var end: VirtualAddress { range.upperBound }
    /// The number of pages the region spans.
    public var pageCount: Int { Int((end.raw - start.raw) / pageSize) }

    /// The part of this region inside `bounds`, or nil if they do not overlap.
    public func clipped(to bounds: Range<VirtualAddress>) -> Region? {
        let start = Swift.max(self.start, bounds.lowerBound), end = Swift.min(self.end, bounds.upperBound)
        guard start < end else { return nil }
        return Region(range: start..<end, protection: protection, kind: kind)
    }

    /// The region with the same kind and protection over `range`.
    public func with(range: Range<VirtualAddress>) -> Region {
        Region(range: range, protection: protection, kind: kind)
    }

    /// The region with the same range and kind and protection `protection`.
    public func with(protection: VMProtection) -> Region {
        Region(range: range, protection: protection, kind: kind)
    }

    /// True if `next` starts where this region ends and both can be one region.
    public func canMerge(with next: Region) -> Bool {
        end == next.start && kind == next.kind && kind.isMergeable && protection == next.protection
    }
}
