// TestFrameProvider: a FrameProvider over SimulatedPhysicalMemory for host
// tests, which counts frames and fails allocations on demand.
//
// Design: a stack of free frame addresses (lowest address handed out
// first, so runs are deterministic) and a table of the frames handed out
// with their kind. Releasing a frame that is not out traps (double free or
// a frame that never came from here). `failAllocation(number:)` makes the
// n-th next allocation attempt return nil, once, so a test can walk a
// failure through every allocation an operation makes.

import KernelCore

public final class TestFrameProvider: FrameProvider {
    public let memory: SimulatedPhysicalMemory
    private var freeFrames: [UInt64]
    private var allocated: [UInt64: FrameKind] = [:]
    /// Attempts (successful or not) since creation.
    public private(set) var allocationAttempts = 0
    private var failingAttempt: Int? = nil
    /// When true every allocation fails.
    public var failAllAllocations = false

    /// Hands out the frames of [firstFrame, firstFrame + frameCount pages) of `memory`.
    public init(memory: SimulatedPhysicalMemory, firstFrame: PhysicalAddress, frameCount: Int) {
        precondition(firstFrame.isPageAligned && firstFrame.raw + UInt64(frameCount) * pageSize <= memory.size)
        self.memory = memory
        freeFrames = (0..<frameCount).reversed().map { firstFrame.raw + UInt64($0) * pageSize }
    }

    /// Frames available.
    public var freeFrameCount: Int { freeFrames.count }
    /// Frames handed out and not released.
    public var allocatedFrameCount: Int { allocated.count }
    /// Frames of `kind` handed out and not released.
    public func allocatedFrameCount(of kind: FrameKind) -> Int { allocated.values.filter { $0 == kind }.count }
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
        guard let address = freeFrames.popLast() else { return nil }
        allocated[address] = kind
        memory.pointer(to: PhysicalAddress(address)).initializeMemory(as: UInt8.self, repeating: 0,
                                                                      count: Int(pageSize))
        return OwnedFrame(adopting: PhysicalAddress(address))
    }

    public func releaseFrame(_ frame: consuming OwnedFrame) {
        let address = frame.intoRaw().raw
        precondition(allocated.removeValue(forKey: address) != nil,
                     "release of frame \(address) which is not allocated (double free?)")
        freeFrames.append(address)
    }
}
