import HAL

// kernel_main: the first Swift code, called by Boot/multiboot2.asm on the
// boot stack with the boot page tables (see KernelLayout).

@_cdecl("kernel_main")
func kernelMain(_ magic: UInt32, _ multibootInfoPhysical: UInt64) -> Never {
    Serial.initialize()
    Console.write("\nSwiftKernel: an Embedded Swift kernel for x86-64\n")

    installDescriptorTables()

    let bootInfo: Multiboot2Info
    do {
        bootInfo = try Multiboot2Info(magic: magic,
                                      base: KernelLayout.directMap(multibootInfoPhysical),
                                      limit: BootReport.multibootInfoLimit)
    } catch {
        kernelPanic("boot: the multiboot2 information is missing or malformed")
    }
    let commandLine = KernelCommandLine(bootInfo.commandLine)
    BootReport.show(bootInfo: bootInfo, infoPhysical: multibootInfoPhysical, commandLine: commandLine)

    if let mode = commandLine.value("test") {
        SelfTest.run(mode: mode, bootInfo: bootInfo, commandLine: commandLine)
    }
    Monitor.run(bootInfo: bootInfo)
}

/// GDT (with the TSS and its IST stacks) and IDT.
private func installDescriptorTables() {
    var tops: [UInt64] = []
    for _ in GDT.InterruptStack.allCases {
        let stack = UnsafeMutableRawPointer.allocate(byteCount: GDT.interruptStackSize, alignment: 16)
        tops.append(UInt64(UInt(bitPattern: stack)) + UInt64(GDT.interruptStackSize))
    }
    GDT.install(interruptStackTops: tops)
    IDT.install()
}
