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

/// A source of frames (the FrameAllocator, or a test double that fails on demand).
public protocol FrameProvider: AnyObject {
    /// A frame with a reference count of 1, filled with zeros, or nil when out of memory.
    func allocateFrame(kind: FrameKind) -> OwnedFrame?
    /// Drops one reference; the frame is free when the last one goes.
    func releaseFrame(_ frame: consuming OwnedFrame)
}
