import HAL

// kernel_main: the first Swift code, called by Boot/multiboot2.asm on the
// boot stack with the boot page tables (see KernelLayout).
//
// Boot order: serial; GDT/IDT (so faults report); multiboot2 information;
// memory (frames, the kernel's page tables, protections, heap growth); then
// a guarded kernel stack, on which the rest of the kernel runs and which
// becomes the idle task's; then user space (InitProcess.swift).

/// What the first phase of boot hands to the second, across the stack switch.
enum Boot {
    nonisolated(unsafe) static var info: Multiboot2Info! = nil
    nonisolated(unsafe) static var commandLine: KernelCommandLine! = nil
    nonisolated(unsafe) static var stack: KernelStack! = nil
}

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

    KernelMemory.bringUp(bootInfo: bootInfo, infoPhysical: multibootInfoPhysical)
    moveInterruptStacksToGuardedStacks()
    guard let stack = KernelStacks.allocate() else { kernelPanic("boot: no memory for the kernel stack") }
    Boot.info = bootInfo
    Boot.commandLine = commandLine
    VMCheck.configure(commandLine)
    Boot.stack = stack
    hal_run_on_stack(stack.top, kernelMainOnKernelStack)
}

/// The rest of boot, on a kernel stack with a guard page.
@_cdecl("kernel_main_on_kernel_stack")
func kernelMainOnKernelStack() {
    CPUFeatures.reportProtections()
    KernelMemory.report()

    if let mode = Boot.commandLine.value("test") {
        SelfTest.run(mode: mode, bootInfo: Boot.info, commandLine: Boot.commandLine)
    }
    InitProcess.start(bootInfo: Boot.info, commandLine: Boot.commandLine)
}

/// GDT (with the TSS and its IST stacks) and IDT. The IST stacks come from
/// the heap arena until paging is up, then move to guarded stacks.
private func installDescriptorTables() {
    var tops: [UInt64] = []
    for _ in GDT.InterruptStack.allCases {
        let stack = UnsafeMutableRawPointer.allocate(byteCount: GDT.interruptStackSize, alignment: 16)
        tops.append(UInt64(UInt(bitPattern: stack)) + UInt64(GDT.interruptStackSize))
    }
    GDT.install(interruptStackTops: tops)
    IDT.install()
}

private func moveInterruptStacksToGuardedStacks() {
    for stack in GDT.InterruptStack.allCases {
        guard let guarded = KernelStacks.allocate() else { kernelPanic("boot: no memory for the IST stacks") }
        GDT.setInterruptStack(stack, top: guarded.top)
    }
}
