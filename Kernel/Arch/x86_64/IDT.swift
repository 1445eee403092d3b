import HAL

// The interrupt descriptor table: every vector points at its stub in
// Boot/interrupts.asm, which calls `interrupt_dispatch` (Interrupts.swift).
enum IDT {
    static let vectorCount = 256
    private static let gateSize = 16
    private static let interruptGate: UInt64 = 0x8E   // present, ring 0, 64-bit interrupt gate
    private static let userCallableGate: UInt64 = 0xEE  // the same, callable from ring 3 (int3)

    /// Builds and loads the IDT. Double fault, NMI and machine check get IST stacks.
    static func install() {
        let table = UnsafeMutableRawPointer.allocate(byteCount: vectorCount * gateSize, alignment: 4096)
        for vector in 0..<vectorCount {
            var ist: UInt64 = 0
            switch vector {
            case ExceptionVector.doubleFault.rawValue: ist = UInt64(GDT.InterruptStack.doubleFault.rawValue)
            case ExceptionVector.nmi.rawValue: ist = UInt64(GDT.InterruptStack.nmi.rawValue)
            case ExceptionVector.machineCheck.rawValue: ist = UInt64(GDT.InterruptStack.machineCheck.rawValue)
            default: break
            }
            let type = vector == ExceptionVector.breakpoint.rawValue ? userCallableGate : interruptGate
            let handler = hal_isr_stub(Int32(vector))
            var low: UInt64 = handler & 0xFFFF
            low |= UInt64(GDT.kernelCode) << 16
            low |= ist << 32
            low |= type << 40
            low |= ((handler >> 16) & 0xFFFF) << 48
            table.storeBytes(of: low, toByteOffset: vector * gateSize, as: UInt64.self)
            table.storeBytes(of: handler >> 32, toByteOffset: vector * gateSize + 8, as: UInt64.self)
        }
        hal_lidt(UInt64(UInt(bitPattern: table)), UInt16(vectorCount * gateSize - 1))
    }
}
