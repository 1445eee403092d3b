// Why a page-table operation was refused. Every failing operation leaves the
// tables exactly as they were before the call (see PageTable.swift).

public enum PagingError: Error, Equatable {
    /// A page-table page could not be allocated.
    case outOfMemory
    /// An address or length is not a multiple of the page size asked for.
    case misaligned
    /// An empty range, a non-canonical address, or a range across the
    /// canonical hole.
    case invalidRange
    /// The range touches PML4 slots this table does not own (the kernel half
    /// shared into a user space).
    case outsideOwnedRange
    /// The operation would go past the end (or before the start) of the cursor's range.
    case outsideCursorRange
    /// Part of the range is already mapped (map never replaces a mapping).
    case alreadyMapped
    /// The range starts or ends inside a 2 MiB or 1 GiB page: large pages
    /// are never split implicitly.
    case splitsLargePage
    /// x86-64 cannot express the protection (a present page is always readable).
    case unsupportedProtection
}

/// A leaf mapping found by a query.
public struct Mapping: Equatable {
    /// The first virtual address the leaf maps (aligned to `size`).
    public let virtualStart: VirtualAddress
    /// The physical address of `virtualStart`.
    public let physicalStart: PhysicalAddress
    public let size: PageSize
    public let protection: PageProtection
    /// True if the leaf holds a frame reference that unmap hands back.
    public let ownsFrame: Bool

    public init(virtualStart: VirtualAddress, physicalStart: PhysicalAddress, size: PageSize,
                protection: PageProtection, ownsFrame: Bool) {
        self.virtualStart = virtualStart
        self.physicalStart = physicalStart
        self.size = size
        self.protection = protection
        self.ownsFrame = ownsFrame
    }
}
