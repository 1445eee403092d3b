// User/Tests/preempt/main.swift: the scheduler preempts busy processes.
// The parent reads the monotonic clock, then forks two children that spin
// (never yielding) until that start time + window. Each child counts loop
// iterations in the first and the second half of the window and exits 0
// only if it made progress in both halves. Without preemption the first
// child would own the CPU for the whole window and the second would start
// after the deadline with no progress at all; on a multi-core host both
// simply run in parallel.
import UserRuntime

let windowNanoseconds = 600_000_000
let bothHalvesCode: Int32 = 0
let firstHalfOnlyCode = 1, secondHalfOnlyCode = 2, noProgressCode = 3, clockFailedCode = 4
let childCount = 2
let slackFactor = 4

@main
struct PreemptTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        let start = monotonicNanoseconds()
        report.check(start >= 0, "clock_gettime monotonic", "failed")
        let deadline = start + windowNanoseconds
        let midpoint = start + windowNanoseconds / 2

        var pids: (Int, Int) = (0, 0)
        pids.0 = sys_fork()
        if pids.0 == 0 { spin(until: deadline, midpoint: midpoint) }
        pids.1 = sys_fork()
        if pids.1 == 0 { spin(until: deadline, midpoint: midpoint) }
        report.check(pids.0 > 0 && pids.1 > 0, "fork two spinning children", "fork failed")

        var statuses: (Int32, Int32) = (-1, -1)
        report.expectEqual(sys_wait4(pids.0, &statuses.0), pids.0, "first child exited")
        report.expectEqual(sys_wait4(pids.1, &statuses.1), pids.1, "second child exited")
        report.expectEqual(Int(statuses.0), Int(bothHalvesCode), "first child progressed in both halves")
        report.expectEqual(Int(statuses.1), Int(bothHalvesCode), "second child progressed in both halves")
        let elapsed = monotonicNanoseconds() - start
        report.check(elapsed >= windowNanoseconds && elapsed < slackFactor * windowNanoseconds,
                     "children finished around the deadline", "elapsed time out of range")
        report.finish("preempt")
    }

    /// Busy-loops on clock_gettime until `deadline`, then exits with a code
    /// saying in which halves of the window it got to run.
    static func spin(until deadline: Int, midpoint: Int) -> Never {
        var firstHalf = 0, secondHalf = 0
        while true {
            let now = monotonicNanoseconds()
            if now < 0 { sys_exit_group(clockFailedCode) }
            if now >= deadline { break }
            if now < midpoint { firstHalf += 1 } else { secondHalf += 1 }
        }
        switch (firstHalf > 0, secondHalf > 0) {
        case (true, true): sys_exit_group(Int(bothHalvesCode))
        case (true, false): sys_exit_group(firstHalfOnlyCode)
        case (false, true): sys_exit_group(secondHalfOnlyCode)
        case (false, false): sys_exit_group(noProgressCode)
        }
    }
}
