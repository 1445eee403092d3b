import KernelCore

/// RAM for host tests: one host allocation standing in for physical
/// addresses [0, size). Pages are only touched when used, so a simulated
/// machine of a few GiB costs little host memory.
public final class SimulatedPhysicalMemory: PhysicalMemory {
    public let size: UInt64
    private let bytes: UnsafeMutableRawPointer

    public init(size: UInt64) {
        precondition(size % pageSize == 0)
        self.size = size
        bytes = UnsafeMutableRawPointer.allocate(byteCount: Int(size), alignment: Int(pageSize))
    }

    deinit { bytes.deallocate() }

    public func pointer(to address: PhysicalAddress) -> UnsafeMutableRawPointer {
        precondition(address.raw < size, "physical address \(address.raw) beyond simulated RAM of \(size) bytes")
        return bytes + Int(address.raw)
    }
}
