// Physical memory: addresses, frames, and the interfaces through which
// the portable memory code reaches hardware (or the host's simulation).
//
// Ownership rule: a frame the code holds a reference to is an `OwnedFrame`,
// which is ~Copyable. It cannot be duplicated, and dropping one by accident
// traps (its deinit), so every frame is either handed back to the
// allocator, or explicitly turned into a raw address that something else
// (a page-table entry) now owns.

/// The size of a base page and of a frame.
public let pageSize: UInt64 = 4096
public let pageShift: UInt64 = 12

public struct PhysicalAddress: Hashable, Comparable {
    public let raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public var isPageAligned: Bool { raw & (pageSize - 1) == 0 }
    public var frameNumber: UInt64 { raw >> pageShift }
    public static func < (a: Self, b: Self) -> Bool { a.raw < b.raw }
    public static func + (a: Self, offset: UInt64) -> Self { Self(a.raw + offset) }
}

public struct VirtualAddress: Hashable, Comparable {
    public let raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public var isPageAligned: Bool { raw & (pageSize - 1) == 0 }
    public var pageNumber: UInt64 { raw >> pageShift }
    public static func < (a: Self, b: Self) -> Bool { a.raw < b.raw }
    public static func + (a: Self, offset: UInt64) -> Self { Self(a.raw &+ offset) }
}

/// What a frame is used for, for statistics and for catching misuse.
public enum FrameKind: UInt8, CaseIterable {
    case free = 0
    case reserved      // never allocatable (firmware, kernel image, boot modules)
    case metadata      // the frame allocator's own per-frame table
    case pageTable
    case kernelHeap
    case kernelStack
    case user          // user pages (anonymous, ELF, stacks)
    case other

    public var name: StaticString {
        switch self {
        case .free: return "free"
        case .reserved: return "reserved"
        case .metadata: return "frame metadata"
        case .pageTable: return "page tables"
        case .kernelHeap: return "kernel heap"
        case .kernelStack: return "kernel stacks"
        case .user: return "user"
        case .other: return "other"
        }
    }
}

/// One reference to one 4 KiB frame. Hand it back with
/// `FrameProvider.releaseFrame`, or give it away with `intoRaw()`.
@frozen
public struct OwnedFrame: ~Copyable {
    public let address: PhysicalAddress

    /// Takes over one reference the caller already holds on `address`.
    public init(adopting address: PhysicalAddress) { self.address = address }

    /// Gives the reference to whatever stores the address (a page-table entry).
    public consuming func intoRaw() -> PhysicalAddress {
        let address = self.address
        discard self
        return address
    }

    deinit {
        fatalError("OwnedFrame dropped without being released: a frame leak")
    }
}

/// A window through which the code reads and writes any physical address:
/// the kernel's direct map, or the host tests' simulated RAM.
public protocol PhysicalMemory: AnyObject {
    /// A pointer to `address`; valid for `pageSize` bytes from a page-aligned address.
    func pointer(to address: PhysicalAddress) -> UnsafeMutableRawPointer
}

/// A source of frames and the keeper of their counts: the FrameAllocator,
/// or, in host tests, a wrapper around one that fails on demand.
///
/// Counting rules (Linux mm: "each taken mapcount must be paired with
/// exactly one taken reference, whereby references must be incremented
/// before the mapcount when mapping a page, and references must be
/// decremented after the mapcount when unmapping a page"):
/// - a reference is an `OwnedFrame` (or a leaf that owns one, bit 9);
/// - the map count of a frame is the number of page-table leaves mapping
///   it; only the page-table cursor changes it, right after writing an
///   owning leaf and right before handing that leaf's reference back.
public protocol FrameProvider: AnyObject {
    /// A frame with a reference count of 1, filled with zeros, or nil when out of memory.
    func allocateFrame(kind: FrameKind) -> OwnedFrame?
    /// Like `allocateFrame`, but the contents are whatever the frame held:
    /// only for a caller that overwrites all 4 KiB before anything can read
    /// them (a COW copy; Linux's wp_page_copy allocates without
    /// __GFP_ZERO too). Default: `allocateFrame`.
    func allocateFrameForOverwrite(kind: FrameKind) -> OwnedFrame?
    /// Drops one reference; the frame is free when the last one goes.
    func releaseFrame(_ frame: consuming OwnedFrame)
    /// One more reference to the handed-out frame at `address` (a COW or
    /// shared mapping). Contract: the caller holds a reference already
    /// (through a leaf or an OwnedFrame), so the frame cannot be free.
    func shareFrame(at address: PhysicalAddress) -> OwnedFrame
    /// References held on the frame at `address`; 0 for a free or unmanaged frame.
    func referenceCount(of address: PhysicalAddress) -> UInt32
    /// Leaves mapping the frame at `address`.
    func mapCount(of address: PhysicalAddress) -> UInt32
    /// One more leaf maps the frame (the page-table cursor only).
    func incrementMapCount(_ address: PhysicalAddress)
    /// One leaf fewer maps the frame (the page-table cursor only).
    func decrementMapCount(_ address: PhysicalAddress)
    /// A copy of a leaf mapping `address` was written (fork): one more
    /// reference, then one more map count, and `clearing` removed from the
    /// frame's flags, in one step (Linux copy_present_pte: folio_get and
    /// folio_try_dup_anon_rmap_pte). The page-table code only. Contract: a
    /// leaf maps the frame already. Default: the three separate calls.
    func duplicateLeafReference(_ address: PhysicalAddress, clearing: FrameFlags)
    /// A leaf mapping `address` was removed (unmap, teardown): one map
    /// count fewer, then one reference fewer, the frame freed with its last
    /// (Linux zap_pte_range's order). The page-table code only. Default:
    /// `decrementMapCount`, then `releaseFrame`.
    func releaseLeafReference(_ address: PhysicalAddress)
    /// The frame's flags (PageAnonExclusive).
    func flags(of address: PhysicalAddress) -> FrameFlags
    func setFlags(_ flags: FrameFlags, of address: PhysicalAddress)
    /// The reverse-map owner identity (0: none) and page index of the frame.
    func reverseMapping(of address: PhysicalAddress) -> (owner: UInt64, index: UInt64)
    func setReverseMapping(of address: PhysicalAddress, owner: UInt64, index: UInt64)
    /// The shared zero frame: 4 KiB of zeros that nothing ever writes,
    /// mapped read-only for read faults on private anonymous memory
    /// (Linux's ZERO_PAGE). The provider holds one reference to it forever,
    /// so leaves can share it like any other frame.
    var zeroFrame: PhysicalAddress { get }
}

extension FrameProvider {
    public func allocateFrameForOverwrite(kind: FrameKind) -> OwnedFrame? { allocateFrame(kind: kind) }

    public func duplicateLeafReference(_ address: PhysicalAddress, clearing: FrameFlags) {
        _ = shareFrame(at: address).intoRaw()
        incrementMapCount(address)
        if !clearing.isEmpty { setFlags(flags(of: address).subtracting(clearing), of: address) }
    }

    public func releaseLeafReference(_ address: PhysicalAddress) {
        decrementMapCount(address)
        releaseFrame(OwnedFrame(adopting: address))
    }
}
