import HAL

// The kernel's virtual memory layout (see README, "Memory layout").
//
//   0x0000_0000_0000_0000 .. 0x0000_7f7f_ffff_ffff   user space (PML4 0..254)
//   0x0000_7f80_0000_0000 + phys                     kernel image (PML4 255)
//       after the image: the kernel heap window
//   0xffff_8000_0000_0000 + phys                     direct map of RAM (PML4 256)
//
// The image and heap sit below 2^47 because Swift keeps flags in the top
// bits of object pointers (../shared/notes, pitfall 1). The direct map is
// only ever used through raw pointers, which have no spare bits.
enum KernelLayout {
    static let kernelBase: UInt64 = 0x0000_7F80_0000_0000
    static let directMapBase: UInt64 = 0xFFFF_8000_0000_0000
    /// What Swift objects must stay below.
    static let swiftPointerLimit: UInt64 = 1 << 47
    /// The boot stub maps this much of physical memory in the direct map.
    static let bootDirectMapSize: UInt64 = 4 << 30

    static var imageStart: UInt64 { hal_kernel_start() }
    static var imageEnd: UInt64 { hal_kernel_end() }
    static var imagePhysicalStart: UInt64 { hal_kernel_start() - kernelBase }
    static var imagePhysicalEnd: UInt64 { hal_kernel_end() - kernelBase }

    /// A pointer to physical address `physical` through the direct map.
    static func directMap(_ physical: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(directMapBase + physical))!
    }

    /// True for an 8-byte aligned kernel address that can hold a stack frame.
    static func isPlausibleStackAddress(_ address: UInt64) -> Bool {
        guard address & 7 == 0 else { return false }
        let stacksEnd = KernelStacks.regionBase + UInt64(KernelStacks.slotCount) * KernelStacks.slotBytes
        return KernelHeapSetup.contains(address) || (address >= imageStart && address + 16 <= imageEnd)
            || (address >= KernelStacks.regionBase && address + 16 <= stacksEnd)
    }
}
