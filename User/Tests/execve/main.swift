// User/Tests/execve/main.swift: execve(2) through fork+execve+wait4.
// argv[1] names the program to run (the exectarget program; default
// /bin/exectarget), so the native runner can pass a host path. A child
// execs it with argv [path, "alpha", "beta"] and envp ["EXEC_TEST=1"]; the
// target exits 7 only if it received exactly those. Failing execs must
// return -ENOENT / -EFAULT and leave the caller running.
import UserRuntime

let targetSuccessCode: Int32 = 7
let execFailedBase = 100
let kernelAddress = Int(bitPattern: 0xffff_8000_0000_0000 as UInt)

@main
struct ExecveTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        let defaultPath: StaticString = "/bin/exectarget"
        let path: UnsafePointer<CChar> = ProcessInfo.argument(1)
            ?? UnsafeRawPointer(defaultPath.utf8Start).assumingMemoryBound(to: CChar.self)

        let alpha: StaticString = "alpha", beta: StaticString = "beta", env: StaticString = "EXEC_TEST=1"
        var argv: (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) =
            (path, cString(alpha), cString(beta), nil)
        var envp: (UnsafePointer<CChar>?, UnsafePointer<CChar>?) = (cString(env), nil)

        withUnsafeMutableBytes(of: &argv) { argvBytes in
            withUnsafeMutableBytes(of: &envp) { envpBytes in
                let argvList = UnsafePointer(argvBytes.bindMemory(to: UnsafePointer<CChar>?.self).baseAddress!)
                let envpList = UnsafePointer(envpBytes.bindMemory(to: UnsafePointer<CChar>?.self).baseAddress!)

                let missing: StaticString = "/nonexistent/no-such-program"
                report.expectEqual(sys_execve(cString(missing), argvList, envpList), -Errno.ENOENT,
                                   "execve missing path -ENOENT")
                let badPath = syscall(SyscallNumber.execve, kernelAddress, address(argvList), address(envpList))
                report.expectEqual(badPath, -Errno.EFAULT, "execve bad path pointer -EFAULT")

                for _ in 0..<2 {
                    let child = sys_fork()
                    if child == 0 {
                        let result = sys_execve(path, argvList, envpList)
                        sys_exit_group(execFailedBase + (-result & 0x7f))
                    }
                    var status: Int32 = -1
                    let reaped = sys_wait4(child, &status)
                    report.check(child > 0 && reaped == child, "fork+wait4 around execve", "fork or wait4 failed")
                    let decoded = WaitStatus(status)
                    if decoded.exited && decoded.exitCode == targetSuccessCode {
                        report.pass("exec target ran with argv+envp (exit 7)")
                    } else {
                        report.fail("exec target ran with argv+envp (exit 7)", "raw wait status", value: Int(status))
                    }
                }
            }
        }
        report.finish("execve")
    }

    /// The bytes of a static string as a C string (literals are NUL-terminated).
    static func cString(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}
