import HAL

// The 16550 UART on COM1: the kernel's console, for output and input.
// Polled: output waits for the transmitter, input is read when asked.
enum Serial {
    static let port: UInt16 = 0x3F8

    private enum Register: UInt16 {
        case data = 0, interruptEnable = 1, fifoControl = 2, lineControl = 3
        case modemControl = 4, lineStatus = 5
    }
    private static let lineStatusDataReady: UInt8 = 1 << 0
    private static let lineStatusTransmitEmpty: UInt8 = 1 << 5
    private static let divisorLatch: UInt8 = 0x80
    private static let eightNoneOne: UInt8 = 0x03
    private static let divisor115200: UInt8 = 1

    /// Programs 115200 baud, 8N1, FIFOs on, interrupts off.
    static func initialize() {
        write(.interruptEnable, 0x00)
        write(.lineControl, divisorLatch)
        write(.data, divisor115200)            // divisor low byte
        write(.interruptEnable, 0x00)          // divisor high byte
        write(.lineControl, eightNoneOne)
        write(.fifoControl, 0xC5)              // enable, clear transmit (keep type-ahead), 14-byte threshold
        write(.modemControl, 0x0B)             // DTR, RTS, OUT2
    }

    /// Sends one byte, translating "\n" into "\r\n" for terminals.
    static func put(_ byte: UInt8) {
        if byte == UInt8(ascii: "\n") { putRaw(UInt8(ascii: "\r")) }
        putRaw(byte)
    }

    static func putRaw(_ byte: UInt8) {
        while hal_inb(port + Register.lineStatus.rawValue) & lineStatusTransmitEmpty == 0 { hal_pause() }
        hal_outb(port + Register.data.rawValue, byte)
    }

    /// A received byte, or nil when none is waiting.
    static func poll() -> UInt8? {
        guard hal_inb(port + Register.lineStatus.rawValue) & lineStatusDataReady != 0 else { return nil }
        return hal_inb(port + Register.data.rawValue)
    }

    private static func write(_ register: Register, _ value: UInt8) {
        hal_outb(port + register.rawValue, value)
    }
}

/// `print` in Embedded Swift ends here.
@_cdecl("putchar")
func putchar(_ c: CInt) -> CInt {
    Serial.put(UInt8(truncatingIfNeeded: c))
    return c
}
