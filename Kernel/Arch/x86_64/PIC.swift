import HAL

// The two legacy 8259A interrupt controllers. Remapped so IRQ 0..15 arrive
// on vectors 32..47, clear of the CPU exceptions; every line masked until
// a driver unmasks its own.
enum PIC {
    static let vectorBase = 32
    static let lineCount = 16
    /// Where a spurious IRQ 7 / IRQ 15 arrives; it must not be acknowledged.
    static let spuriousPrimaryVector = vectorBase + 7
    static let spuriousSecondaryVector = vectorBase + 15

    private static let primaryCommand: UInt16 = 0x20, primaryData: UInt16 = 0x21
    private static let secondaryCommand: UInt16 = 0xA0, secondaryData: UInt16 = 0xA1
    private static let initialize: UInt8 = 0x11     // ICW1: init, ICW4 follows
    private static let mode8086: UInt8 = 0x01       // ICW4
    private static let endOfInterrupt: UInt8 = 0x20
    private static let cascadeLine: UInt8 = 2

    nonisolated(unsafe) private static var mask: UInt16 = 0xFFFF

    static func remapAndMaskAll() {
        hal_outb(primaryCommand, initialize); hal_outb(secondaryCommand, initialize)
        hal_outb(primaryData, UInt8(vectorBase)); hal_outb(secondaryData, UInt8(vectorBase + 8))
        hal_outb(primaryData, 1 << cascadeLine); hal_outb(secondaryData, cascadeLine)
        hal_outb(primaryData, mode8086); hal_outb(secondaryData, mode8086)
        mask = 0xFFFF & ~(1 << UInt16(cascadeLine))
        writeMask()
    }

    static func unmask(line: Int) {
        mask &= ~(1 << UInt16(line))
        writeMask()
    }

    /// Acknowledges `line` so the controller delivers the next interrupt.
    static func acknowledge(line: Int) {
        if line >= 8 { hal_outb(secondaryCommand, endOfInterrupt) }
        hal_outb(primaryCommand, endOfInterrupt)
    }

    private static func writeMask() {
        hal_outb(primaryData, UInt8(mask & 0xFF))
        hal_outb(secondaryData, UInt8(mask >> 8))
    }
}

// The 8254 programmable interval timer, channel 0 on IRQ 0: the scheduler's tick.
enum PIT {
    static let irqLine = 0
    static let inputHz: UInt64 = 1_193_182
    static let tickHz: UInt64 = 100
    private static let channel0: UInt16 = 0x40, command: UInt16 = 0x43
    private static let rateGenerator: UInt8 = 0x34     // channel 0, lo/hi byte, mode 2

    nonisolated(unsafe) static var ticks: UInt64 = 0

    static func start() {
        let divisor = UInt16(inputHz / tickHz)
        hal_outb(command, rateGenerator)
        hal_outb(channel0, UInt8(divisor & 0xFF))
        hal_outb(channel0, UInt8(divisor >> 8))
        PIC.unmask(line: irqLine)
    }
}
