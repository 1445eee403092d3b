import HAL

// A minimal serial monitor, until user space has a shell: reads a line,
// runs one of a few built-in commands.
enum Monitor {
    static func run(bootInfo: Multiboot2Info) -> Never {
        print("Kernel monitor. Commands: help, mem, panic, poweroff")
        while true {
            Console.write("monitor> ")
            let line = readLine()
            switch line {
            case "": continue
            case "help": print("help: this text; mem: memory map totals; panic: a deliberate ud2; poweroff: exit QEMU")
            case "mem": print("Usable RAM: \(formatSize(bootInfo.usableBytes)), heap in use: \(KernelHeapSetup.heap.bytesInUse) bytes")
            case "panic": hal_ud2()
            case "poweroff": print("Powering off."); QemuExit.exit(.success)
            default: print("unknown command: \(line)")
            }
        }
    }

    /// Reads one line from the serial console, echoing it, with backspace.
    static func readLine() -> String {
        var bytes: [UInt8] = []
        while true {
            guard let byte = Serial.poll() else { hal_pause(); continue }
            switch byte {
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                Serial.put(UInt8(ascii: "\n"))
                return String(decoding: bytes, as: UTF8.self)
            case 0x08, 0x7F:
                if !bytes.isEmpty { bytes.removeLast(); Console.write("\u{8} \u{8}") }
            default:
                bytes.append(byte)
                Serial.putRaw(byte)
            }
        }
    }
}
