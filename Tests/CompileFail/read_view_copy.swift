// Copying a view (a second view of the region behind the lender's back).
// expected-error: 'region' is borrowed and cannot be consumed
@testable import KernelCore

func misuse<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: inout UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    _ = space.withRegion(containing: address) { region in
        let copy = region
        _ = copy.protection
    }
}
