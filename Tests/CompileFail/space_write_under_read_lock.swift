// Changing the regions with only the space's read lock (a borrowed space).
// expected-error: cannot use mutating member on immutable value
@testable import KernelCore

func misuse<M: PhysicalMemory, F: FrameProvider, T: TLBControl>(_ space: borrowing UserAddressSpace<M, F>, tlb: T) throws(VMError) {
    let address = VirtualAddress(0x40_0000)
    try space.protect(address..<address + 0x1000, to: .read, tlb: tlb)
}
