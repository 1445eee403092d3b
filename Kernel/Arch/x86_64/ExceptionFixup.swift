import HAL

// Recovery from expected faults: the exception table (Boot/probe.asm).
//
// A fault at an instruction listed in .extable resumes at its fixup instead
// of panicking, and the fault is recorded for whoever asked (self-tests
// check the error code; later, user-memory copies return -EFAULT).
enum ExceptionFixup {
    struct Fault {
        var vector: UInt64
        var errorCode: UInt64
        var address: UInt64   // CR2 for #PF
        var rip: UInt64
    }

    /// The last fault that was recovered.
    nonisolated(unsafe) static var lastFault: Fault? = nil

    /// Resumes `frame` at its fixup if the faulting instruction has one.
    static func recover(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> Bool {
        let rip = frame.pointee.rip
        if rip != 0 && rip == hal_probe_execute_target {
            // Fetch fault at the called address: unwind the `call`.
            record(frame)
            frame.pointee.rsp += 8
            frame.pointee.rip = hal_probe_execute_fixup_address()
            return true
        }
        var entry = hal_extable_start()!
        let end = hal_extable_end()!
        while entry < end {
            if entry[0] == rip {
                record(frame)
                frame.pointee.rip = entry[1]
                return true
            }
            entry += 2
        }
        return false
    }

    /// True if the instruction at `rip` has an exception-table entry (a
    /// user copy), so a fault there is an expected one.
    static func hasEntry(for rip: UInt64) -> Bool {
        var entry = hal_extable_start()!
        let end = hal_extable_end()!
        while entry < end {
            if entry[0] == rip { return true }
            entry += 2
        }
        return false
    }

    private static func record(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) {
        let f = frame.pointee
        let isPageFault = f.vector == UInt64(ExceptionVector.pageFault.rawValue)
        lastFault = Fault(vector: f.vector, errorCode: f.error_code,
                          address: isPageFault ? hal_read_cr2() : 0, rip: f.rip)
    }
}
