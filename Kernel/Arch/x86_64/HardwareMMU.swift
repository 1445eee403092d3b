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

/// The CPU's TLB, with flush counters for the monitor's `tlb` command.
final class HardwareTLB: TLBControl {
    private(set) var singlePageFlushes = 0
    private(set) var fullFlushes = 0
    private(set) var globalFlushes = 0

    func invalidatePage(_ address: VirtualAddress) {
        singlePageFlushes += 1
        hal_invlpg(address.raw)
    }

    func flushAll(includingGlobal: Bool) {
        if includingGlobal { globalFlushes += 1 } else { fullFlushes += 1 }
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
