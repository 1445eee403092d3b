import HAL

// Leaving QEMU through its isa-debug-exit device (qemu/qemu.mk adds it at
// port 0xf4). Writing v makes QEMU exit with status (v << 1) | 1, so every
// status below is odd and none can be confused with a triple fault under
// -no-reboot, which exits 0. qemu/run-qemu-tests.sh decodes them.
enum QemuExit: UInt32 {
    case success = 0x10   // QEMU exits 33
    case failure = 0x11   // QEMU exits 35
    case panic = 0x12     // QEMU exits 37

    static let port: UInt16 = 0xF4

    /// Exits QEMU; on a machine without the device, halts forever.
    static func exit(_ status: QemuExit) -> Never {
        hal_outl(port, status.rawValue)
        haltForever()
    }
}

/// Stops this CPU for good: interrupts off, halt.
func haltForever() -> Never {
    while true {
        hal_cli()
        hal_hlt()
    }
}
