// User/Programs/runtests/main.swift: /bin/runtests, the in-QEMU test
// driver.
//
// `runtests name1 name2 ...` runs each test program <bin>/<name> in turn
// (fork, execve, wait4) and prints exactly one line per test:
//   USERTEST PASS <name>
//   USERTEST FAIL <name>: exit status N | killed by signal N | fork failed | ...
// then `USERTEST SUMMARY passed=N failed=M`, and exits 0 only if M == 0.
// <bin> is /bin, or the value of the environment variable RUNTESTS_BIN (so
// the driver also runs on Linux against build/user/bin). Tests get argv
// [path] except argv_auxv: [path, "alpha", "beta gamma"] and execve:
// [path, <bin>/exectarget]; the environment is ["USER_TEST_ENV=yes"]. The
// tests' own PASS/FAIL lines pass through on the shared stdout; stdout is
// flushed before each fork (sys_fork does it) so nothing is printed twice.
import UserRuntime

/// Where the test programs live unless RUNTESTS_BIN says otherwise.
let defaultBinDirectory: StaticString = "/bin"
let binDirectoryVariable: StaticString = "RUNTESTS_BIN="
/// Longest program path the driver builds.
let maxPathLength = 255
/// argv slots: the path, at most two arguments, the NULL.
let argvSlots = 4
/// Exit code of a child whose execve failed.
let execFailedExitCode = 127
let usageExitCode = 2

@main
struct RunTests {
    /// Runs every test named on the command line and exits with the verdict.
    static func main() {
        guard ProcessInfo.argc > 1 else {
            put("usage: runtests test-name...  (programs in $RUNTESTS_BIN, default /bin)"); newline()
            sys_exit_group(usageExitCode)
        }
        let binDirectory = binDirectoryPath()
        var testPath = CStringBuilder(capacity: maxPathLength)
        var targetPath = CStringBuilder(capacity: maxPathLength)
        targetPath.append(cString: binDirectory)
        targetPath.append("/exectarget")
        let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: argvSlots)

        var passed = 0, failed = 0
        for index in 1..<ProcessInfo.argc {
            let name = ProcessInfo.argument(index)!
            testPath.clear()
            testPath.append(cString: binDirectory)
            testPath.append("/")
            testPath.append(cString: name)
            if testPath.overflowed || targetPath.overflowed {
                beginFailure(name); put("path too long"); newline()
                failed += 1
                continue
            }
            fillArguments(argv, test: name, path: testPath.cString, exectarget: targetPath.cString)
            if runTest(name, path: testPath.cString, argv: UnsafePointer(argv)) {
                passed += 1
            } else {
                failed += 1
            }
        }
        put("USERTEST SUMMARY passed="); put(passed); put(" failed="); put(failed); newline()
        sys_exit_group(failed == 0 ? 0 : 1)
    }

    /// The test directory: the value of RUNTESTS_BIN, else /bin.
    static func binDirectoryPath() -> UnsafePointer<CChar> {
        guard let variable = ProcessInfo.environment(withPrefix: binDirectoryVariable) else {
            return defaultBinDirectory.cStringPointer
        }
        return variable + binDirectoryVariable.utf8CodeUnitCount
    }

    /// Writes the NULL-terminated argv for test `name` into `argv`
    /// (`argvSlots` entries): [path], plus the extra arguments argv_auxv and
    /// execve expect.
    static func fillArguments(_ argv: UnsafeMutablePointer<UnsafePointer<CChar>?>, test name: UnsafePointer<CChar>,
                              path: UnsafePointer<CChar>, exectarget: UnsafePointer<CChar>) {
        let alpha: StaticString = "alpha"
        let betaGamma: StaticString = "beta gamma"
        argv[0] = path
        argv[1] = nil
        argv[2] = nil
        argv[3] = nil
        if cStringEquals(name, "argv_auxv") {
            argv[1] = alpha.cStringPointer
            argv[2] = betaGamma.cStringPointer
        } else if cStringEquals(name, "execve") {
            argv[1] = exectarget
        }
    }

    /// Forks, execs `path` with `argv` and the test environment, waits, and
    /// prints the USERTEST line for `name`. Returns true when it passed.
    static func runTest(_ name: UnsafePointer<CChar>, path: UnsafePointer<CChar>,
                        argv: UnsafePointer<UnsafePointer<CChar>?>) -> Bool {
        let child = sys_fork()
        if child == 0 { execTest(path, argv) }
        guard child > 0 else {
            beginFailure(name); put("fork failed (errno "); put(-child); put(")"); newline()
            return false
        }
        var status: Int32 = 0
        var reaped = sys_wait4(child, &status)
        while reaped == -Errno.EINTR { reaped = sys_wait4(child, &status) }
        guard reaped == child else {
            beginFailure(name); put("wait4 failed (errno "); put(-reaped); put(")"); newline()
            return false
        }
        let decoded = WaitStatus(status)
        if decoded.exited && decoded.exitCode == 0 {
            put("USERTEST PASS "); put(cString: name); newline()
            return true
        }
        beginFailure(name)
        if decoded.exited {
            put("exit status "); put(Int(decoded.exitCode))
        } else {
            put("killed by signal "); put(Int(decoded.terminatingSignal))
        }
        newline()
        return false
    }

    /// In the forked child: execve(path, argv, ["USER_TEST_ENV=yes"]). On
    /// failure prints a diagnostic (not a USERTEST line) and exits 127.
    static func execTest(_ path: UnsafePointer<CChar>, _ argv: UnsafePointer<UnsafePointer<CChar>?>) -> Never {
        let testEnvironment: StaticString = "USER_TEST_ENV=yes"
        var environment: (UnsafePointer<CChar>?, UnsafePointer<CChar>?) = (testEnvironment.cStringPointer, nil)
        let result = withUnsafePointer(to: &environment) { pair in
            pair.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: 2) { envp in
                sys_execve(path, argv, envp)
            }
        }
        put("runtests: cannot execute "); put(cString: path); put(" (errno "); put(-result); put(")"); newline()
        sys_exit_group(execFailedExitCode)
    }

    /// Starts "USERTEST FAIL <name>: "; the caller adds the reason and newline.
    static func beginFailure(_ name: UnsafePointer<CChar>) {
        put("USERTEST FAIL "); put(cString: name); put(": ")
    }
}
