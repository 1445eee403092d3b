// User/Tests/faults/main.swift: CPU exceptions in ring 3 become signals that
// kill only the faulting process. One child per fault kind; the parent
// checks the terminating signal in each wait4 status (low 7 bits) and that
// it is itself still running afterwards.
import UserRT
import UserRuntime

let kernelAddress: UInt = 0xffff_8000_0000_0000
let nonCanonicalAddress: UInt = 0x0000_8000_0000_0000
let returnOpcodes: UInt64 = 0xc3c3_c3c3_c3c3_c3c3  // `ret` x 8, in case NX is missing

/// Writable data that must not be executable (W^X): filled with `ret`.
nonisolated(unsafe) var dataCode: UInt64 = returnOpcodes
/// Keeps the divisor opaque so nothing folds the division away.
nonisolated(unsafe) var zeroDivisor: UInt64 = 0

/// Stack bytes each recursion level keeps live.
let frameBytes = 512

/// Recurses until the stack runs into its guard page (never returns in
/// practice; the depth check only keeps the compiler from calling it an
/// infinite recursion).
@inline(never)
func recurseForever(_ depth: Int) -> Int {
    if depth == Int.max { return 0 }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: frameBytes) { buffer in
        buffer[0] = UInt8(truncatingIfNeeded: depth)
        return recurseForever(depth + 1) + Int(buffer[0])
    }
}

@main
struct FaultsTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        report.expectEqual(signalOfChild { user_store_byte(0, 1) }, Int(Signal.SIGSEGV), "null write SIGSEGV")
        report.expectEqual(signalOfChild { _ = user_load_byte(0) }, Int(Signal.SIGSEGV), "null read SIGSEGV")
        report.expectEqual(signalOfChild { user_fault_ud2() }, Int(Signal.SIGILL), "ud2 SIGILL")
        report.expectEqual(signalOfChild { _ = user_fault_divide(1, zeroDivisor) }, Int(Signal.SIGFPE),
                           "divide by zero SIGFPE")
        report.expectEqual(signalOfChild { user_fault_int3() }, Int(Signal.SIGTRAP), "int3 SIGTRAP")
        report.expectEqual(signalOfChild { user_store_byte(user_text_start(), 0xcc) }, Int(Signal.SIGSEGV),
                           "write to text SIGSEGV")
        report.expectEqual(signalOfChild { _ = user_load_byte(kernelAddress) }, Int(Signal.SIGSEGV),
                           "read kernel address SIGSEGV")
        report.expectEqual(signalOfChild { _ = user_load_byte(nonCanonicalAddress) }, Int(Signal.SIGSEGV),
                           "non-canonical read SIGSEGV")
        report.expectEqual(signalOfChild { user_call_address(0) }, Int(Signal.SIGSEGV), "call NULL SIGSEGV")
        report.expectEqual(signalOfChild { withUnsafeMutablePointer(to: &dataCode) { user_call_address(UInt(bitPattern: $0)) } },
                           Int(Signal.SIGSEGV), "execute data (NX) SIGSEGV")
        report.expectEqual(signalOfChild { user_fault_hlt() }, Int(Signal.SIGSEGV), "hlt in ring 3 SIGSEGV")
        report.expectEqual(signalOfChild { _ = recurseForever(1) }, Int(Signal.SIGSEGV),
                           "stack overflow into the guard page SIGSEGV")
        report.check(sys_getpid() > 0, "parent survives its children's faults", "getpid failed")
        report.finish("faults")
    }

    /// Runs `fault` in a child (which exits 0 if it survives) and returns the
    /// signal number from its wait4 status, 0 for a normal exit, -1 if fork
    /// or wait4 failed.
    static func signalOfChild(_ fault: () -> Void) -> Int {
        let child = sys_fork()
        if child == 0 {
            fault()
            sys_exit_group(0)
        }
        var status: Int32 = -1
        guard child > 0, sys_wait4(child, &status) == child else { return -1 }
        return Int(WaitStatus(status).terminatingSignal)
    }
}
