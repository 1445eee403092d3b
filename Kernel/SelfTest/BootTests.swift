import HAL

// Self-tests of the boot foundation: memory map, command line, heap,
// descriptor tables and exception recovery.
enum BootTests {
    static func run(_ t: inout TestRunner, bootInfo: Multiboot2Info, commandLine: KernelCommandLine) {
        t.test("multiboot.memory-map-present") {
            bootInfo.memoryMap.isEmpty ? "the memory map is empty" : nil
        }
        t.test("multiboot.memory-map-sorted-and-disjoint") {
            var previousEnd: UInt64 = 0
            for region in bootInfo.memoryMap {
                if region.start < previousEnd { return "region at \(hex(region.start)) overlaps the one before" }
                previousEnd = region.end
            }
            return nil
        }
        t.test("multiboot.usable-ram-matches-qemu") {
            // qemu/qemu.mk boots with -m 256M; the map holds a bit less than that
            // (low memory holes, BIOS areas).
            let usable = bootInfo.usableBytes
            let expected = UInt64(commandLine.value("expect-ram-mib").flatMap { UInt64($0) } ?? 0) << 20
            if expected == 0 { return "no expect-ram-mib= on the command line" }
            if usable > expected || usable < expected - (8 << 20) {
                return "usable RAM is \(usable) bytes, expected just under \(expected)"
            }
            return nil
        }
        t.test("multiboot.kernel-image-in-usable-ram") {
            let start = KernelLayout.imagePhysicalStart, end = KernelLayout.imagePhysicalEnd
            for region in bootInfo.memoryMap where region.kind == .usable {
                if region.start <= start && end <= region.end { return nil }
            }
            return "the image \(hex(start))-\(hex(end)) is not inside a usable region"
        }
        t.test("cmdline.parsed") {
            commandLine.value("test") == "all" && commandLine.has("expect-ram-mib") ? nil
                : "expected test=all and expect-ram-mib in \"\(commandLine.raw)\""
        }
        t.test("heap.allocate-free-roundtrip") {
            let before = KernelHeapSetup.heap.bytesInUse
            var arrays: [[UInt64]] = []
            for i in 0..<64 { arrays.append([UInt64](repeating: UInt64(i), count: i * 7 + 1)) }
            for (i, array) in arrays.enumerated() where array.count != i * 7 + 1 || array.last != UInt64(i) {
                return "array \(i) came back corrupted"
            }
            arrays = []
            let after = KernelHeapSetup.heap.bytesInUse
            return after == before ? nil : "heap bytes in use went from \(before) to \(after)"
        }
        t.test("cpu.sse-enabled") {
            let cr4 = hal_read_cr4()
            return cr4 & (1 << 9) != 0 ? nil : "CR4.OSFXSR is clear"
        }
        t.test("exceptions.page-fault-is-recoverable-through-extable") {
            ExceptionFixup.lastFault = nil
            let pointer = UnsafeRawPointer(bitPattern: UInt(SelfTestSupport.unmappedAddress))!
            let result = hal_probe_read_byte(pointer)
            guard result == -1, let fault = ExceptionFixup.lastFault else { return "the probe did not fault" }
            if fault.vector != 14 { return "vector \(fault.vector), expected 14" }
            if fault.address != SelfTestSupport.unmappedAddress { return "CR2 \(hex(fault.address))" }
            // Not present, read, kernel mode.
            return fault.errorCode == 0 ? nil : "error code \(hex(fault.errorCode, width: 1)), expected 0"
        }
    }
}
