import HAL

// The kernel's memory, brought up in this order (`bringUp`):
//   1. the frame allocator, from the multiboot2 memory map, leaving out the
//      low 1 MiB, the boot stub and kernel image, the multiboot information
//      and the boot modules;
//   2. the kernel's own page tables: the image with per-section
//      permissions, a direct map of all RAM (2 MiB pages, 1 GiB where the
//      CPU has them; read-only over the image's text and rodata), all global; PML4 slots 255..511 pinned so every user
//      space shares them;
//   3. CR3 switched to them, then NX, WP, SMEP and SMAP turned on;
//   4. the heap allowed to grow past its bss arena onto fresh frames.
// Kernel stacks (with guard pages) come from KernelStacks.swift.

typealias KernelFrameAllocator = FrameAllocator<DirectMapMemory>
typealias KernelPageTable = PageTable<DirectMapMemory, KernelFrameAllocator>

/// Owns the kernel's page table (a ~Copyable value needs a single owner).
final class KernelAddressSpace {
    var table: KernelPageTable
    init(table: consuming KernelPageTable) { self.table = table }

    /// Maps [virtual, virtual + length) onto [physical, ...) with the
    /// largest page size `size` allows, and flushes.
    func mapPhysical(_ virtual: UInt64, _ physical: UInt64, length: UInt64, size: PageSize,
                     _ protection: PageProtection) throws(PagingError) {
        try table.edit(VirtualAddress(virtual) ..< VirtualAddress(virtual + length), flushingWith: KernelMemory.tlb) {
            (cursor) throws(PagingError) in
            try cursor.mapPhysical(PhysicalAddress(physical), length: length, size: size, protection)
        }
    }
}

enum KernelMemory {
    /// PML4 slots every address space shares: the image and heap (255) and
    /// the direct map (256 and up).
    static let kernelSlots = 255..<512
    /// Everything below this is never handed out (BIOS, real-mode structures).
    static let lowMemoryEnd: UInt64 = 1 << 20
    static let twoMiB: UInt64 = 2 << 20
    static let oneGiB: UInt64 = 1 << 30
    /// Frames processes cannot take (FrameAllocator.kernelReserve): 2 MiB,
    /// far more than the kernel heap needs to finish any one syscall.
    static let kernelReserveFrames = 512

    nonisolated(unsafe) static var frames: KernelFrameAllocator! = nil
    nonisolated(unsafe) static var kernelSpace: KernelAddressSpace! = nil
    nonisolated(unsafe) static var directMapEnd: UInt64 = 0
    static let memory = DirectMapMemory()
    static let tlb = HardwareTLB()

    static func bringUp(bootInfo: Multiboot2Info, infoPhysical: UInt64) {
        startFrameAllocator(bootInfo: bootInfo, infoPhysical: infoPhysical)
        buildKernelPageTables(bootInfo: bootInfo)
        hal_write_cr3(kernelSpace.table.root.raw)
        CPUFeatures.enableProtections()
        KernelHeapSetup.heap.backing.framesReady = true
    }

    private static func startFrameAllocator(bootInfo: Multiboot2Info, infoPhysical: UInt64) {
        var reserved: [Range<UInt64>] = [
            // Boot stub, boot page tables and the whole image (bss and heap arena included).
            lowMemoryEnd ..< KernelLayout.imagePhysicalEnd,
            infoPhysical ..< infoPhysical + UInt64(bootInfo.totalSize),
        ]
        for module in bootInfo.modules { reserved.append(module.start ..< module.end) }
        do {
            frames = try FrameAllocator(memory: memory, regions: bootInfo.memoryMap, reserved: reserved,
                                        lowestAllocatable: lowMemoryEnd)
        } catch {
            kernelPanic("memory: no usable RAM for the frame allocator")
        }
        frames.kernelReserve = kernelReserveFrames
        _ = frames.zeroFrame   // the shared zero page, before any frame baseline is taken
        frames.violationHandler = { violation in
            print("frame allocator: \(violation.operation.name) of \(hex(violation.address.raw)): \(violation.problem.name)")
            kernelPanic("frame allocator: reference-count violation")
        }
    }

    private static func buildKernelPageTables(bootInfo: Multiboot2Info) {
        let table: KernelPageTable
        do {
            table = try KernelPageTable(memory: memory, frames: frames, pinnedSlots: kernelSlots)
        } catch {
            kernelPanic("memory: out of memory creating the kernel page table")
        }
        kernelSpace = KernelAddressSpace(table: table)
        let global: PageProtection = [.global]
        let base = KernelLayout.kernelBase
        do throws(PagingError) {
            // The image, one section at a time (Linker/kernel.ld aligns each to a page).
            let sections: [(UInt64, UInt64, PageProtection)] = [
                (hal_text_start(), hal_text_end(), PageProtection.kernelCode.union(global)),
                (hal_rodata_start(), hal_rodata_end(), PageProtection.kernelReadOnly.union(global)),
                (hal_data_start(), hal_bss_end(), PageProtection.kernelReadWrite.union(global)),
            ]
            for (start, end, protection) in sections where end > start {
                try kernelSpace.mapPhysical(start, start - base, length: end - start, size: .size4KiB, protection)
            }
            // The direct map: every byte of RAM the memory map knows, in large pages.
            var end: UInt64 = 0
            for region in bootInfo.memoryMap where region.kind != .reserved && region.kind != .defective {
                end = max(end, region.end)
            }
            let useGigabytePages = CPUFeatures.detect().gigabytePages
            let pageBytes = useGigabytePages ? oneGiB : twoMiB
            directMapEnd = (end + pageBytes - 1) / pageBytes * pageBytes
            try mapDirectMap(largePage: useGigabytePages ? .size1GiB : .size2MiB, global: global)
        } catch {
            kernelPanic("memory: could not build the kernel page tables")
        }
        restrictKernelHalfLinks()
    }

    /// Contract: every kernel-half PML4 entry carries kernelTableLinkFlags
    /// (U/S clear), before any user space copies them (PageTable's
    /// init(sharingKernelHalfOf:)), so one kernel leaf mapped with U by
    /// mistake still cannot be reached from ring 3 (review finding 15).
    /// The leaves keep deciding every other right.
    private static func restrictKernelHalfLinks() {
        let root = KernelLayout.directMap(kernelSpace.table.root.raw)
        for slot in kernelSlots {
            // SAFETY: the root is a live, page-aligned PML4 frame reached through
            // the direct map; slot < 512, so the access stays inside it.
            let entry = root.load(fromByteOffset: slot * 8, as: UInt64.self)
            guard entry & PageTableEntry.present != 0 else { continue }
            let restricted = (entry & PageTableEntry.tableAddressMask) | PageTableEntry.kernelTableLinkFlags
            root.storeBytes(of: restricted, toByteOffset: slot * 8, as: UInt64.self)
        }
    }

    /// Maps the direct map, [0, directMapEnd) at KernelLayout.directMapBase.
    ///
    /// Contract: every byte is readable and no byte is executable; every
    /// byte is writable except the physical range of the image's .text and
    /// .rodata (the exception table included), which is read-only, as
    /// Linux keeps all aliases of its text and rodata read-only. Otherwise a
    /// kernel write through the alias would undo W^X on the image
    /// (review finding 5). Large pages everywhere except the 2 MiB blocks
    /// around that range, which get 4 KiB pages.
    private static func mapDirectMap(largePage: PageSize, global: PageProtection) throws(PagingError) {
        let readWrite = PageProtection.kernelReadWrite.union(global)
        let readOnly = PageProtection.kernelReadOnly.union(global)
        let base = KernelLayout.kernelBase
        let readOnlyStart = hal_text_start() - base, readOnlyEnd = hal_rodata_end() - base
        let smallStart = readOnlyStart / twoMiB * twoMiB
        let smallEnd = (readOnlyEnd + twoMiB - 1) / twoMiB * twoMiB
        let largeBytes = largePage.bytes
        let mediumStart = smallStart / largeBytes * largeBytes
        let mediumEnd = (smallEnd + largeBytes - 1) / largeBytes * largeBytes
        let pieces: [(UInt64, UInt64, PageSize, PageProtection)] = [
            (0, mediumStart, largePage, readWrite),
            (mediumStart, smallStart, .size2MiB, readWrite),
            (smallStart, readOnlyStart, .size4KiB, readWrite),
            (readOnlyStart, readOnlyEnd, .size4KiB, readOnly),
            (readOnlyEnd, smallEnd, .size4KiB, readWrite),
            (smallEnd, mediumEnd, .size2MiB, readWrite),
            (mediumEnd, directMapEnd, largePage, readWrite),
        ]
        for (start, end, size, protection) in pieces where end > start {
            try kernelSpace.mapPhysical(KernelLayout.directMapBase + start, start, length: end - start,
                                        size: size, protection)
        }
    }

    /// Prints the frame statistics.
    static func report() {
        let s = frames.statistics
        print("Frames: \(s.totalFrames) total (\(formatSize(UInt64(s.totalFrames) * pageSize))), \(s.freeFrames) free")
        var line = "  in use:"
        for kind in FrameKind.allCases where kind != .free && s.frames(kind) > 0 {
            kind.name.withUTF8Buffer { line += " " + String(decoding: $0, as: UTF8.self) }
            line += " \(s.frames(kind))"
        }
        print(line)
        print("Direct map: \(hex(KernelLayout.directMapBase))-\(hex(KernelLayout.directMapBase + directMapEnd)); kernel heap: \(KernelHeapSetup.heap.committedPages) pages committed, \(KernelHeapSetup.heap.bytesInUse) bytes in use")
    }
}
