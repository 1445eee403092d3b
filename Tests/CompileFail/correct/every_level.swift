// The control: each level used as intended compiles (so a failure of the
// other snippets is theirs, not a broken build or import).
@testable import KernelCore

func use<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: inout UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    var region = NewRegion(range: address..<address + 0x1000, MapRequest(length: 0x1000, protection: .read))
    try region.clearMayWrite()
    region.commit(into: &space)
    let protection = space.withRegion(containing: address) { region in region.protection }
    _ = protection
    try space.withRegionForWriting(containing: address, tlb: tlb) { region throws(VMError) in
        try region.setProtection(.readExecute)
    }
}

func lookUp<M: PhysicalMemory, F: FrameProvider>(_ space: borrowing UserAddressSpace<M, F>) -> Int {
    space.withRegion(containing: VirtualAddress(0x40_0000)) { region in Int(region.end.raw - region.start.raw) } ?? 0
}
