// Letting a write view escape the call that lent it.
// expected-error: implicit conversion to 'RegionMut?' is consuming
@testable import KernelCore

func misuse<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: inout UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    var kept: RegionMut? = nil
    try space.withRegionForWriting(containing: address, tlb: tlb) { region throws(VMError) in
        kept = region
    }
    _ = kept
}
