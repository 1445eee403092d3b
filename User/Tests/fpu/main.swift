// User/Tests/fpu/main.swift: FPU/SSE registers survive preemption. Two
// children run the same floating-point recurrence with different seeds at
// the same time, long enough to be preempted many times (so the lazily
// switched registers change owner many times, Boot/fpu.asm); each exits 0
// only if its result is bit-for-bit the one the parent computed alone
// beforehand.
import UserRuntime

let iterations = 1_500_000
let childCount = 2
let mismatchCode = 1

/// A recurrence whose value depends on every step: any clobbered XMM
/// register or rounding-mode change shows in the final bits.
func recurrence(seed: Double) -> UInt64 {
    var accumulator = seed
    var term = seed / 3
    for step in 0..<iterations {
        accumulator = accumulator * 0.999_999_7 + term
        term = term * 1.000_000_1 - Double(step & 7) * 0.125
    }
    return (accumulator + term).bitPattern
}

@main
struct FPUTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        // Seeds from the pid, so the compiler cannot fold the recurrences away.
        let base = Double(sys_getpid() & 0) + 1.25
        let expected = (recurrence(seed: base), recurrence(seed: base + 1))
        report.check(expected.0 != expected.1, "different seeds give different results", "same result")

        var pids = (0, 0)
        pids.0 = sys_fork()
        if pids.0 == 0 { sys_exit_group(recurrence(seed: base) == expected.0 ? 0 : mismatchCode) }
        pids.1 = sys_fork()
        if pids.1 == 0 { sys_exit_group(recurrence(seed: base + 1) == expected.1 ? 0 : mismatchCode) }
        report.check(pids.0 > 0 && pids.1 > 0, "fork two computing children", "fork failed")

        var statuses: (Int32, Int32) = (-1, -1)
        report.expectEqual(sys_wait4(pids.0, &statuses.0), pids.0, "first child reaped")
        report.expectEqual(sys_wait4(pids.1, &statuses.1), pids.1, "second child reaped")
        report.expectEqual(Int(statuses.0), 0, "first child's result exact after preemption")
        report.expectEqual(Int(statuses.1), 0, "second child's result exact after preemption")
        report.check(recurrence(seed: base) == expected.0, "parent's result unchanged after its children ran",
                     "mismatch")
        report.finish("fpu")
    }
}
