// A write-level operation under the read level.
// expected-error: value of type 'RegionRef' has no member 'setProtection'
@testable import KernelCore

func misuse<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: inout UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    _ = space.withRegion(containing: address) { region in
        try? region.setProtection(.read)
    }
}
