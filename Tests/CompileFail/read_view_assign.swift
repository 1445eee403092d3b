// Changing a region through the read view (VmaRef has no setters).
// expected-error: 'protection' is a get-only property
@testable import KernelCore

func misuse<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: inout UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    _ = space.withRegion(containing: address) { region in
        region.protection = .read
    }
}
