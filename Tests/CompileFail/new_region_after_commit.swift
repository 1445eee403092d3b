// Using a new region after committing it (VmaNew is consumed by insertion).
// expected-error: 'region' used after consume
@testable import KernelCore

func misuse<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: inout UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    var region = NewRegion(range: address..<address + 0x1000, MapRequest(length: 0x1000, protection: .read))
    region.commit(into: &space)
    try region.clearMayWrite()
}
