// User/Tests/uname_clock/main.swift: uname(2) fills struct utsname with
// non-empty fields and machine "x86_64"; clock_gettime(CLOCK_MONOTONIC)
// succeeds, is normalised, never goes backwards and advances; an unknown
// clock id is -EINVAL.
import UserRuntime

let utsFieldLength = 65
let utsFieldCount = 6          // sysname nodename release version machine domainname
let machineField = 4
let nanosecondsPerSecond = 1_000_000_000
let monotonicSamples = 1000
let advanceSpinLimit = 50_000_000
let unknownClock = 9999

@main
struct UnameClockTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        checkUname(&report)
        checkClock(&report)
        report.finish("uname_clock")
    }

    /// uname into a zeroed buffer; every field but nodename/domainname must
    /// be non-empty and NUL-terminated within 65 bytes.
    static func checkUname(_ report: inout TestReport) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: utsFieldLength * utsFieldCount, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: utsFieldLength * utsFieldCount)
        report.expectEqual(sys_uname(buffer), 0, "uname returns 0")
        let fields = buffer.assumingMemoryBound(to: CChar.self)
        var filled = true
        for field in [0, 2, 3, 4] {
            let start = fields + field * utsFieldLength
            if start[0] == 0 || start[utsFieldLength - 1] != 0 { filled = false }
        }
        report.check(filled, "uname sysname/release/version/machine non-empty", "empty or unterminated field")
        report.check(cStringEquals(fields + machineField * utsFieldLength, "x86_64"), "uname machine x86_64", "wrong machine")
        put("uname: "); put(cString: fields); put(" "); put(cString: fields + 2 * utsFieldLength); newline()
    }

    /// Monotonic clock: valid, non-decreasing over many samples, advancing.
    static func checkClock(_ report: inout TestReport) {
        var time = TimeSpec()
        report.expectEqual(sys_clock_gettime(ClockID.monotonic, &time), 0, "clock_gettime monotonic returns 0")
        report.check(time.seconds >= 0 && time.nanoseconds >= 0 && time.nanoseconds < nanosecondsPerSecond,
                     "timespec normalised", "tv_nsec out of range")
        var previous = time.totalNanoseconds
        var monotonic = true
        for _ in 0..<monotonicSamples {
            _ = sys_clock_gettime(ClockID.monotonic, &time)
            if time.totalNanoseconds < previous { monotonic = false }
            previous = time.totalNanoseconds
        }
        report.check(monotonic, "monotonic clock never decreases", "went backwards")
        let first = previous
        var advanced = false
        for _ in 0..<advanceSpinLimit {
            _ = sys_clock_gettime(ClockID.monotonic, &time)
            if time.totalNanoseconds > first { advanced = true; break }
        }
        report.check(advanced, "monotonic clock advances", "stuck")
        report.expectEqual(sys_clock_gettime(unknownClock, &time), -Errno.EINVAL, "unknown clock id -EINVAL")
    }
}
