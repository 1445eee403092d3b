// The serial console as a character device: output goes straight to the
// UART; input goes through the line discipline (Kernel/Lib) and wakes the
// tasks blocked reading it. Two keys never reach the line discipline's
// buffer: Ctrl-C kills the foreground job with SIGINT (ConsoleInterrupt),
// Ctrl-\ opens the kernel monitor (KernelMonitor).
//
// Input is polled on every timer tick and in the idle loop rather than
// taken by interrupt: QEMU holds back bytes while the UART's FIFO is
// full, so nothing is lost, and 100 Hz is fast enough for typing.
enum ConsoleDevice {
    nonisolated(unsafe) static var input = LineDiscipline()

    /// Moves every byte the UART holds into the line discipline.
    static func pollInput() {
        var lineReady = false
        while let byte = Serial.poll() {
            switch byte {
            case KernelMonitor.openKey:
                KernelMonitor.open("Ctrl-\\ on the console")
            case LineDiscipline.interrupt:
                input.interrupt(echo: { Serial.put($0) })
                ConsoleInterrupt.interruptForeground()
            default:
                if input.receive(byte, echo: { Serial.put($0) }) { lineReady = true }
            }
        }
        if lineReady { Scheduler.wake(.consoleInput) }
    }

    /// Most bytes one write() sends (FileSyscalls.write returns a short
    /// count beyond): the UART is polled with interrupts off, so this bounds
    /// how long a syscall can keep the timer away (4 KiB: about 5 ms, half
    /// a tick, under QEMU TCG, where a byte costs ~1.2 us; the
    /// console_write test prints the figure).
    static let maximumWriteBytes = 4 * 1024

    /// Writes `bytes` to the console.
    static func write(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes { Serial.put(byte) }
    }
}
