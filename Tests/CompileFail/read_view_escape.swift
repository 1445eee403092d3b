// Letting a read view escape the call that lent it.
// expected-error: implicit conversion to 'RegionRef?' is consuming
@testable import KernelCore

func misuse<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: inout UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    var kept: RegionRef? = nil
    _ = space.withRegion(containing: address) { region in
        kept = region
    }
    _ = kept
}
