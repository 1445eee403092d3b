// User/Tests/enosys/main.swift: unknown system call numbers return -ENOSYS
// (38) and leave the process running; known ones still work afterwards.
import UserRuntime

let unknownLarge = 9999
let unknownUnassigned = 1000   // beyond the Linux x86-64 table and its x32 range
let unknownNegative = -1

@main
struct EnosysTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        report.expectEqual(syscall(unknownLarge), -Errno.ENOSYS, "syscall 9999 -ENOSYS")
        report.expectEqual(syscall(unknownUnassigned), -Errno.ENOSYS, "syscall 1000 -ENOSYS")
        report.expectEqual(syscall(unknownNegative), -Errno.ENOSYS, "syscall -1 -ENOSYS")
        report.expectEqual(sys_sched_yield(), 0, "sched_yield returns 0")
        report.check(sys_getpid() > 0, "getpid works after unknown syscalls", "getpid failed")
        report.finish("enosys")
    }
}
