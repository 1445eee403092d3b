// TestFrameProvider: the kernel's own FrameAllocator over simulated RAM,
// behind a wrapper that counts frames and fails allocations on demand.
//
// Design: the reference counts, map counts, flags and reverse-map fields
// are the real allocator's (one source of truth for the VM tests and the
// kernel); the wrapper only adds bookkeeping tests ask about (which frames
// are out, of which kind) and failure injection. Any misuse the allocator
// reports (double free, releasing a mapped frame, count underflow) traps,
// so a test cannot pass over a counting bug. `failAllocation(number:)`
// makes the n-th next allocation attempt return nil, once, so a test can
// walk a failure through every allocation an operation makes.
//
// The allocator's own per-frame table sits just below `firstFrame`, so
// exactly the frames [firstFrame, firstFrame + frameCount pages) are
// handed out. The shared zero frame is allocated at construction and
// counts as allocated (tests compare against a baseline taken after).

import KernelCore

public final class TestFrameProvider: FrameProvider {
    public let memory: SimulatedPhysicalMemory
    public let allocator: FrameAllocator<SimulatedPhysicalMemory>
    private var allocated: [UInt64: FrameKind] = [:]
    /// Frames handed out, by FrameKind.rawValue (kept so that counting is O(1)).
    private var countsByKind = [Int](repeating: 0, count: FrameKind.allCases.count)
    /// Attempts (successful or not) since creation.
    public private(set) var allocationAttempts = 0
    private var failingAttempt: Int? = nil
    /// When true every allocation fails.
    public var failAllAllocations = false

    /// Hands out the frames of [firstFrame, firstFrame + frameCount pages) of `memory`.
    public init(memory: SimulatedPhysicalMemory, firstFrame: PhysicalAddress, frameCount: Int) {
        let end = firstFrame.raw + UInt64(frameCount) * pageSize
        precondition(firstFrame.isPageAligned && end <= memory.size)
        let tableBytes = (end / pageSize) * 32
        let tablePages = (tableBytes + pageSize - 1) / pageSize
        precondition(firstFrame.raw >= tablePages * pageSize, "no room for the frame table below firstFrame")
        let tableStart = firstFrame.raw - tablePages * pageSize
        self.memory = memory
        do {
            allocator = try FrameAllocator(memory: memory,
                                           regions: [MemoryRegion(start: tableStart, end: end, kind: .usable)],
                                           reserved: [], lowestAllocatable: tableStart)
        } catch {
            fatalError("simulated frame allocator: \(error)")
        }
        precondition(allocator.metadataRange == tableStart..<firstFrame.raw)
        allocator.violationHandler = { violation in
            fatalError("frame allocator violation: \(violation.operation) \(violation.problem) at \(violation.address.raw)")
        }
        allocated[allocator.zeroFrame.raw] = .user
        countsByKind[Int(FrameKind.user.rawValue)] += 1
    }

    /// Frames available.
    public var freeFrameCount: Int { allocator.statistics.freeFrames }
    /// Frames handed out and not released (the zero frame included).
    public var allocatedFrameCount: Int { allocated.count }
    /// Frames of `kind` handed out and not released.
    public func allocatedFrameCount(of kind: FrameKind) -> Int { countsByKind[Int(kind.rawValue)] }
    /// True if `address` is a frame handed out and not yet released.
    public func isAllocated(_ address: PhysicalAddress) -> Bool { allocated[address.raw] != nil }

    /// Makes the `number`-th next allocation attempt (1 = the very next) fail, once.
    public func failAllocation(number: Int) {
        precondition(number >= 1)
        failingAttempt = allocationAttempts + number
    }

    public func allocateFrame(kind: FrameKind) -> OwnedFrame? {
        allocationAttempts += 1
        if failAllAllocations { return nil }
        if failingAttempt == allocationAttempts { failingAttempt = nil; return nil }
        guard let frame = allocator.allocateFrame(kind: kind) else { return nil }
        allocated[frame.address.raw] = kind
        countsByKind[Int(kind.rawValue)] += 1
        return frame
    }

    public func releaseFrame(_ frame: consuming OwnedFrame) {
        let address = frame.intoRaw()
        guard let kind = allocated[address.raw] else {
            preconditionFailure("release of frame \(address.raw) which is not allocated (double free?)")
        }
        if allocator.release(address) {
            allocated[address.raw] = nil
            countsByKind[Int(kind.rawValue)] -= 1
        }
    }

    public func shareFrame(at address: PhysicalAddress) -> OwnedFrame { allocator.shareFrame(at: address) }
    public func referenceCount(of address: PhysicalAddress) -> UInt32 { allocator.referenceCount(of: address) }
    public func mapCount(of address: PhysicalAddress) -> UInt32 { allocator.mapCount(of: address) }
    public func incrementMapCount(_ address: PhysicalAddress) { allocator.incrementMapCount(address) }
    public func decrementMapCount(_ address: PhysicalAddress) { allocator.decrementMapCount(address) }
    public func flags(of address: PhysicalAddress) -> FrameFlags { allocator.flags(of: address) }
    public func setFlags(_ flags: FrameFlags, of address: PhysicalAddress) { allocator.setFlags(flags, of: address) }
    public func reverseMapping(of address: PhysicalAddress) -> (owner: UInt64, index: UInt64) {
        allocator.reverseMapping(of: address)
    }
    public func setReverseMapping(of address: PhysicalAddress, owner: UInt64, index: UInt64) {
        allocator.setReverseMapping(of: address, owner: owner, index: index)
    }
    public var zeroFrame: PhysicalAddress { allocator.zeroFrame }
}
