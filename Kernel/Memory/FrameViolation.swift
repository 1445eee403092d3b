// What the frame allocator reports and returns besides frames: the
// violations it detects (FrameAllocator.swift's "Misuse" paragraph), the
// errors of its construction and the snapshot of its counters.

/// What a caller did wrong, reported by the frame allocator.
public struct FrameViolation: Equatable {
    public enum Operation: UInt8 {
        case allocate, retain, release, freeContiguous, incrementMapCount, decrementMapCount
        public var name: StaticString {
            switch self {
            case .allocate: return "allocate"
            case .retain: return "retain"
            case .release: return "release"
            case .freeContiguous: return "freeContiguous"
            case .incrementMapCount: return "incrementMapCount"
            case .decrementMapCount: return "decrementMapCount"
            }
        }
    }
    public enum Problem: UInt8 {
        /// The frame is free: a double free, a refcount underflow, or a use after free.
        case frameIsFree
        /// Reserved, metadata, a hole in the memory map, or beyond RAM.
        case frameNotAllocatable
        case notPageAligned
        case countOverflow
        case countUnderflow
        /// The last reference was released while page tables still map it.
        case frameStillMapped
        /// A kind that cannot be allocated, or a frame count out of range.
        case invalidArgument
        public var name: StaticString {
            switch self {
            case .frameIsFree: return "frame is free (double free?)"
            case .frameNotAllocatable: return "frame is not allocatable memory"
            case .notPageAligned: return "address is not page aligned"
            case .countOverflow: return "count overflow"
            case .countUnderflow: return "count underflow"
            case .frameStillMapped: return "frame is still mapped"
            case .invalidArgument: return "invalid argument"
            }
        }
    }
    public let operation: Operation
    public let problem: Problem
    public let address: PhysicalAddress

    public init(_ operation: Operation, _ problem: Problem, _ address: PhysicalAddress) {
        self.operation = operation
        self.problem = problem
        self.address = address
    }
}

public enum FrameAllocatorError: Error, Equatable {
    /// The memory map has no allocatable frame.
    case noUsableMemory
    /// No allocatable run is large enough for the per-frame table.
    case noRoomForMetadata(bytes: UInt64)
}

/// A snapshot of the allocator's counters.
public struct FrameStatistics: Equatable {
    /// Usable frames in the memory map.
    public let totalFrames: Int
    /// Frames per kind, indexed by `FrameKind.rawValue`; they add up to `totalFrames`.
    public let framesByKind: [Int]

    public var freeFrames: Int { framesByKind[Int(FrameKind.free.rawValue)] }
    /// Frames of `kind`: `.free`, `.reserved` (usable but withheld), `.metadata`, or handed out.
    public func frames(_ kind: FrameKind) -> Int { framesByKind[Int(kind.rawValue)] }
}
