import HAL

// Kernel panic: print the cause, the registers, the current task and a
// frame-pointer backtrace with function names (from the symbol table the
// build embeds, Kernel/Monitor/KernelSymbols.swift) on the serial console,
// then stop (QEMU exits with QemuExit.panic). Everything here avoids the
// heap, which may be what broke.
//
// The output format is checked by qemu/run-qemu-tests.sh; keep them in step:
//   KERNEL PANIC: <cause>
//   RIP=... RSP=... RFLAGS=... CS=... SS=...
//   RAX=... RBX=... RCX=... RDX=...      (all 16 general registers)
//   CR0=... CR2=... CR3=... CR4=...
//   Task: pid N (name)                  (or "Task: none (boot)")
//   Backtrace (symbolize with `make symbolize`):
//     #0 0x... function+0xoffset
//   End of panic.
enum Panic {
    nonisolated(unsafe) private static var inProgress = false
    static let maximumBacktraceDepth = 32

    /// Panics on an exception the kernel cannot handle.
    static func exception(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> Never {
        begin()
        let f = frame.pointee
        Console.write("KERNEL PANIC: unhandled exception ")
        if let vector = ExceptionVector(rawValue: Int(f.vector)) {
            Console.write(vector.name)
        } else {
            Console.write("interrupt")
        }
        Console.write(" (vector "); Console.decimal(f.vector)
        Console.write(", error code "); Console.hex(f.error_code, width: 4); Console.write(")\n")
        if f.vector == UInt64(ExceptionVector.pageFault.rawValue) {
            Console.write("Page fault at "); Console.hex(hal_read_cr2())
            let code = PageFaultErrorCode(rawValue: f.error_code)
            Console.write(code.contains(.write) ? ": write" : (code.contains(.instructionFetch) ? ": instruction fetch" : ": read"))
            Console.write(code.contains(.present) ? ", protection violation" : ", page not present")
            Console.write(code.contains(.user) ? ", user mode\n" : ", kernel mode\n")
        }
        registers(f)
        currentTask()
        backtrace(rip: f.rip, rbp: f.rbp)
        end()
    }

    /// Panics with a message from kernel code.
    static func halt(_ message: StaticString) -> Never {
        begin()
        Console.write("KERNEL PANIC: "); Console.write(message); Console.write("\n")
        Console.write("CR0="); Console.hex(hal_read_cr0()); Console.write(" CR2="); Console.hex(hal_read_cr2())
        Console.write(" CR3="); Console.hex(hal_read_cr3()); Console.write(" CR4="); Console.hex(hal_read_cr4()); Console.write("\n")
        currentTask()
        backtrace(rip: 0, rbp: hal_read_rbp())
        end()
    }

    private static func begin() {
        hal_cli()
        if inProgress {
            Console.write("\nKERNEL PANIC: panic while panicking\n")
            QemuExit.exit(.panic)
        }
        inProgress = true
        Console.write("\n")
    }

    private static func end() -> Never {
        Console.write("End of panic.\n")
        QemuExit.exit(.panic)
    }

    private static func registers(_ f: hal_interrupt_frame) {
        func show(_ name: StaticString, _ value: UInt64, _ last: Bool = false) {
            Console.write(name); Console.write("="); Console.hex(value); Console.write(last ? "\n" : " ")
        }
        show("RIP", f.rip); show("RSP", f.rsp); show("RFLAGS", f.rflags); show("CS", f.cs); show("SS", f.ss, true)
        show("RAX", f.rax); show("RBX", f.rbx); show("RCX", f.rcx); show("RDX", f.rdx, true)
        show("RSI", f.rsi); show("RDI", f.rdi); show("RBP", f.rbp); show("R8 ", f.r8, true)
        show("R9 ", f.r9); show("R10", f.r10); show("R11", f.r11); show("R12", f.r12, true)
        show("R13", f.r13); show("R14", f.r14); show("R15", f.r15, true)
        show("CR0", hal_read_cr0()); show("CR2", hal_read_cr2()); show("CR3", hal_read_cr3()); show("CR4", hal_read_cr4(), true)
    }

    /// Walks the saved-RBP chain. Each frame is [saved rbp, return address].
    /// Stops at a null or implausible frame pointer rather than faulting.
    private static func backtrace(rip: UInt64, rbp: UInt64) {
        Console.write("Backtrace (symbolize with `make symbolize`):\n")
        var depth = 0
        if rip != 0 { line(depth, rip, isReturnAddress: false); depth += 1 }
        var frame = rbp
        while depth < maximumBacktraceDepth, KernelLayout.isPlausibleStackAddress(frame) {
            let pointer = UnsafePointer<UInt64>(bitPattern: UInt(frame))!
            let returnAddress = pointer[1]
            if returnAddress == 0 { break }
            line(depth, returnAddress, isReturnAddress: true)
            depth += 1
            let next = pointer[0]
            if next <= frame { break }  // stacks grow down: callers are higher
            frame = next
        }
    }

    private static func line(_ depth: Int, _ address: UInt64, isReturnAddress: Bool) {
        Console.write("  #"); Console.decimal(UInt64(depth)); Console.write(" "); Console.hex(address); Console.write(" ")
        KernelSymbolTable.describe(address, isReturnAddress: isReturnAddress) { Serial.put($0) }
        Console.write("\n")
    }

    /// "Task: pid N (name)", the task whose kernel entry this is, if any.
    private static func currentTask() {
        Console.write("Task: ")
        guard let task = Scheduler.current else { Console.write("none (boot)\n"); return }
        Console.write("pid "); Console.decimal(UInt64(task.pid)); Console.write(" (")
        for byte in task.name { Serial.put(byte) }
        Console.write(")\n")
    }
}

/// Panics with a message: the kernel's `fatalError`.
func kernelPanic(_ message: StaticString) -> Never {
    Panic.halt(message)
}
