import HAL

// The global descriptor table and the task-state segment.
//
// The selector order is fixed by syscall/sysret (Intel SDM vol. 2, SYSRET):
// user SS = STAR[63:48] + 8 and user CS = STAR[63:48] + 16, so user data
// must sit right below user code. This is the Linux order.
//
// Invariant: the only code segment ring 3 can load is `userCode` (64-bit).
// Slot 0x18, where Linux keeps its 32-bit user code segment, is a null
// descriptor here: `o64 sysret` never reads it (it loads fixed attributes),
// and a far jump, far return or iretq to 0x1b raises #GP, so ring 3 can
// never run in compatibility mode. Known deviation: Linux (IA32_EMULATION)
// lets ring 3 enter compatibility mode through __USER32_CS; this kernel
// deliberately has no 32-bit user space.
//
// The TSS holds RSP0 (the stack the CPU loads on an interrupt from ring 3)
// and the IST stacks: double fault, NMI and machine check always run on a
// known-good stack of their own, so a kernel stack overflow still reports.
enum GDT {
    static let kernelCode: UInt16 = 0x08
    static let kernelData: UInt16 = 0x10
    static let userCode32: UInt16 = 0x18 | 3   // null descriptor: only keeps the sysret order
    static let userData: UInt16 = 0x20 | 3
    static let userCode: UInt16 = 0x28 | 3
    static let tss: UInt16 = 0x30

    /// IST slots (1-based, as the IDT gate encodes them).
    enum InterruptStack: UInt8, CaseIterable {
        case doubleFault = 1, nmi = 2, machineCheck = 3
    }
    static let interruptStackSize = 16 * 1024

    private static let entryCount = 8             // 6 descriptors + the 16-byte TSS
    private static let tssSize = 104
    private static let tssRsp0Offset = 4
    private static let tssIstOffset = 36
    private static let tssIoMapOffset = 102

    nonisolated(unsafe) private static var table: UnsafeMutableRawPointer? = nil
    nonisolated(unsafe) private static var taskState: UnsafeMutableRawPointer? = nil

    /// Builds the GDT and TSS, loads them and reloads every segment register.
    /// `interruptStackTops` gives the top of each IST stack, in the order of
    /// `InterruptStack.allCases`.
    static func install(interruptStackTops: [UInt64]) {
        let gdt = UnsafeMutableRawPointer.allocate(byteCount: entryCount * 8, alignment: 16)
        let tssMemory = UnsafeMutableRawPointer.allocate(byteCount: tssSize, alignment: 16)
        tssMemory.initializeMemory(as: UInt8.self, repeating: 0, count: tssSize)
        for (stack, top) in zip(InterruptStack.allCases, interruptStackTops) {
            tssMemory.storeBytes(of: top, toByteOffset: tssIstOffset + (Int(stack.rawValue) - 1) * 8, as: UInt64.self)
        }
        // No I/O permission bitmap: the offset points past the segment.
        tssMemory.storeBytes(of: UInt16(tssSize), toByteOffset: tssIoMapOffset, as: UInt16.self)

        let descriptors: [UInt64] = [
            0,
            0x00AF_9A00_0000_FFFF,  // kernel code: present, ring 0, executable, long mode
            0x00CF_9200_0000_FFFF,  // kernel data: present, ring 0, writable
            0,                      // no 32-bit user code (see the invariant above)
            0x00CF_F200_0000_FFFF,  // user data: ring 3, writable
            0x00AF_FA00_0000_FFFF,  // user code: ring 3, executable, long mode
        ]
        for (i, d) in descriptors.enumerated() { gdt.storeBytes(of: d, toByteOffset: i * 8, as: UInt64.self) }

        // 16-byte system descriptor for the 64-bit TSS (type 0x9: available).
        let base = UInt64(UInt(bitPattern: tssMemory))
        let limit = UInt64(tssSize - 1)
        var low: UInt64 = limit & 0xFFFF
        low |= (base & 0xFF_FFFF) << 16
        low |= 0x89 << 40                       // present, type 9
        low |= ((limit >> 16) & 0xF) << 48
        low |= ((base >> 24) & 0xFF) << 56
        gdt.storeBytes(of: low, toByteOffset: Int(tss), as: UInt64.self)
        gdt.storeBytes(of: base >> 32, toByteOffset: Int(tss) + 8, as: UInt64.self)

        table = gdt
        taskState = tssMemory
        hal_load_gdt(UInt64(UInt(bitPattern: gdt)), UInt16(entryCount * 8 - 1), kernelCode, kernelData)
        hal_ltr(tss)
    }

    /// Points IST slot `stack` at a new stack. The old one must be unused.
    static func setInterruptStack(_ stack: InterruptStack, top: UInt64) {
        taskState!.storeBytes(of: top, toByteOffset: tssIstOffset + (Int(stack.rawValue) - 1) * 8, as: UInt64.self)
    }

    /// Sets the stack the CPU switches to on an interrupt or exception from ring 3.
    static func setKernelStack(top: UInt64) {
        taskState!.storeBytes(of: top, toByteOffset: tssRsp0Offset, as: UInt64.self)
    }
}
