import HAL

// The real hardware behind the portable paging code's interfaces:
// physical memory through the direct map, and the TLB through invlpg and
// CR3/CR4 writes (Intel SDM vol. 3A, 4.10.4.1).

/// Physical memory as the kernel reaches it: the direct map at
/// KernelLayout.directMapBase (the boot stub maps the first 4 GiB; the
/// kernel's own tables map all RAM).
final class DirectMapMemory: PhysicalMemory {
    func pointer(to address: PhysicalAddress) -> UnsafeMutableRawPointer {
        KernelLayout.directMap(address.raw)
    }
}

/// The CPU's TLB.
final class HardwareTLB: TLBControl {
    func invalidatePage(_ address: VirtualAddress) {
        hal_invlpg(address.raw)
    }

    func flushAll(includingGlobal: Bool) {
        let cr4 = hal_read_cr4()
        if includingGlobal && cr4 & CPUFeatures.cr4GlobalPages != 0 {
            // Clearing and setting CR4.PGE drops every entry, global ones too.
            hal_write_cr4(cr4 & ~CPUFeatures.cr4GlobalPages)
            hal_write_cr4(cr4)
        } else {
            hal_write_cr3(hal_read_cr3())
        }
    }
}
