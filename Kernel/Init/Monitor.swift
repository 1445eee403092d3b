// The fallback when there is no boot archive: the kernel monitor
// (Kernel/Monitor/KernelMonitor.swift), with nothing to continue to.
enum Monitor {
    static func run(bootInfo: Multiboot2Info) -> Never {
        print("Usable RAM: \(formatSize(bootInfo.usableBytes)), heap in use: \(KernelHeapSetup.heap.bytesInUse) bytes")
        while true { KernelMonitor.open("no boot archive", canContinue: false) }
    }
}
