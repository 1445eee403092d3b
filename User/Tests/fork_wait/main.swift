// User/Tests/fork_wait/main.swift: fork(2), wait4(2), getpid/getppid.
// A child's exit code reaches the parent as status code<<8; children see
// the parent as their parent; memory is copied, not shared; several
// children are all reaped; wait4 without children is -ECHILD.
// Children print nothing: they report through their exit codes.
import UserRuntime

let childExitCode: Int32 = 42
let wrongParentCode = 1
let severalChildren = 3
let firstSeveralCode = 10
let isolationInitial = 1234
let isolationChildValue = 99

/// A global the child overwrites; the parent's copy must not change.
nonisolated(unsafe) var isolationProbe = isolationInitial

@main
struct ForkWaitTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        let me = sys_getpid()
        report.check(me > 0, "getpid positive", "getpid <= 0")
        report.check(sys_getppid() >= 0, "getppid non-negative", "getppid < 0")
        report.expectEqual(sys_getpid(), me, "getpid stable")

        // One child: exit 42 if its parent is us, 1 otherwise.
        let child = sys_fork()
        if child == 0 {
            sys_exit_group(sys_getppid() == me ? Int(childExitCode) : wrongParentCode)
        }
        report.check(child > 0, "fork returns child pid", "fork failed")
        report.check(child != me, "child pid differs from parent", "same pid")
        var status: Int32 = -1
        report.expectEqual(sys_wait4(child, &status), child, "wait4 returns child pid")
        report.expectEqual(Int(status), Int(childExitCode) << 8, "wait4 status == 42<<8 (child saw getppid == parent)")

        // The child's getpid equals what fork returned (low byte via exit code).
        let second = sys_fork()
        if second == 0 { sys_exit_group(sys_getpid() & 0xff) }
        status = -1
        _ = sys_wait4(second, &status)
        report.expectEqual(Int(WaitStatus(status).exitCode), second & 0xff, "child getpid == fork result")

        // Memory isolation: the child's write stays in the child.
        let third = sys_fork()
        if third == 0 {
            let sawParentValue = isolationProbe == isolationInitial
            isolationProbe = isolationChildValue
            sys_exit_group(sawParentValue ? 0 : 1)
        }
        status = -1
        _ = sys_wait4(third, &status)
        report.expectEqual(Int(status), 0, "child sees parent memory at fork")
        report.expectEqual(isolationProbe, isolationInitial, "child write invisible to parent")

        checkSeveralChildren(&report)

        status = -1
        report.expectEqual(sys_wait4(-1, &status), -Errno.ECHILD, "wait4 without children -ECHILD")
        report.expectEqual(sys_wait4(me, &status), -Errno.ECHILD, "wait4 on a non-child -ECHILD")
        report.finish("fork_wait")
    }

    /// Forks `severalChildren` children with distinct exit codes and reaps
    /// them with wait4(-1): every pid comes back once with its own code.
    static func checkSeveralChildren(_ report: inout TestReport) {
        var pids: (Int, Int, Int) = (0, 0, 0)
        var seen: (Bool, Bool, Bool) = (false, false, false)
        withUnsafeMutableBytes(of: &pids) { pidBytes in
            let pidList = pidBytes.bindMemory(to: Int.self)
            for index in 0..<severalChildren {
                let pid = sys_fork()
                if pid == 0 { sys_exit_group(firstSeveralCode + index) }
                pidList[index] = pid
            }
            withUnsafeMutableBytes(of: &seen) { seenBytes in
                let seenList = seenBytes.bindMemory(to: Bool.self)
                var allMatched = true
                for _ in 0..<severalChildren {
                    var status: Int32 = -1
                    let reaped = sys_wait4(-1, &status)
                    var matched = false
                    for index in 0..<severalChildren where pidList[index] == reaped && !seenList[index] {
                        matched = WaitStatus(status).exited && Int(WaitStatus(status).exitCode) == firstSeveralCode + index
                        seenList[index] = true
                    }
                    if !matched { allMatched = false }
                }
                report.check(allMatched, "several children reaped with their own codes", "a pid or code mismatched")
            }
        }
    }
}
