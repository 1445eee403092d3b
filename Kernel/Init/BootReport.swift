// What the kernel prints about the machine at boot.
enum BootReport {
    /// The most we read of the multiboot2 information (GRUB's is a few KiB).
    static let multibootInfoLimit = 64 * 1024

    static func show(bootInfo: Multiboot2Info, infoPhysical: UInt64, commandLine: KernelCommandLine) {
        print("Boot loader: \(bootInfo.bootLoaderName)")
        print("Command line: \"\(commandLine.raw)\"")
        print("Kernel image: virtual \(hex(KernelLayout.imageStart))-\(hex(KernelLayout.imageEnd)), physical \(hex(KernelLayout.imagePhysicalStart))-\(hex(KernelLayout.imagePhysicalEnd)) (\(formatSize(KernelLayout.imageEnd - KernelLayout.imageStart)))")
        print("Multiboot information at physical \(hex(infoPhysical)), \(bootInfo.totalSize) bytes")
        for module in bootInfo.modules {
            print("Boot module \"\(module.name)\": physical \(hex(module.start))-\(hex(module.end))")
        }
        print("Physical memory map:")
        print("  start              end                size       type")
        for region in bootInfo.memoryMap {
            var line = "  \(hex(region.start)) \(hex(region.end)) "
            var size = formatSize(region.size)
            while size.utf8.count < 10 { size += " " }
            line += size + " "
            region.kind.name.withUTF8Buffer { line += String(decoding: $0, as: UTF8.self) }
            print(line)
        }
        print("Usable RAM: \(formatSize(bootInfo.usableBytes)) (\(bootInfo.usableBytes) bytes)")
    }
}
