// User/Tests/efault/main.swift: system calls given bad user pointers fail
// with -EFAULT (14) instead of faulting the kernel or the process: NULL,
// a kernel-half address, a non-canonical address and a range whose end
// wraps around 2^64. stdout must be a pipe, file or console (not
// /dev/null, which Linux never reads from).
import UserRuntime

let kernelAddress = Int(bitPattern: 0xffff_8000_0000_0000 as UInt)
let nonCanonicalAddress = 0x0000_8000_0000_0000
let wrappingAddress = Int(bitPattern: 0xffff_ffff_ffff_fff0 as UInt)
let wrappingCount = 32
let smallCount = 5
let stdoutFd = 1, stdinFd = 0
let utsnameSize = 6 * 65

@main
struct EfaultTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        flushOutput()
        let efault = -Errno.EFAULT
        report.expectEqual(syscall(SyscallNumber.write, stdoutFd, 0, smallCount), efault, "write NULL -EFAULT")
        report.expectEqual(syscall(SyscallNumber.write, stdoutFd, kernelAddress, smallCount), efault,
                           "write kernel address -EFAULT")
        report.expectEqual(syscall(SyscallNumber.write, stdoutFd, nonCanonicalAddress, smallCount), efault,
                           "write non-canonical -EFAULT")
        report.expectEqual(syscall(SyscallNumber.write, stdoutFd, wrappingAddress, wrappingCount), efault,
                           "write wrapping range -EFAULT")

        // read into NULL from a file (our own binary): -EFAULT on both
        // kernels. Not from stdin: NULL passes access_ok, so on a console
        // the read first blocks for a line, as Linux's tty_read does (and
        // /dev/null gives 0 at once); the console cases below fail
        // access_ok before any blocking.
        if let path = ProcessInfo.argument(0), case let fd = sys_open(path, 0), fd >= 0 {
            report.expectEqual(syscall(SyscallNumber.read, fd, 0, smallCount), efault, "read NULL -EFAULT")
            _ = sys_close(fd)
        } else {
            report.check(false, "read NULL -EFAULT", "cannot open our own binary")
        }
        report.expectEqual(syscall(SyscallNumber.read, stdinFd, kernelAddress, smallCount), efault,
                           "read kernel address -EFAULT")
        report.expectEqual(syscall(SyscallNumber.read, stdinFd, wrappingAddress, wrappingCount), efault,
                           "read wrapping range -EFAULT")

        report.expectEqual(syscall(SyscallNumber.clockGettime, ClockID.monotonic, 0), efault,
                           "clock_gettime NULL -EFAULT")
        report.expectEqual(syscall(SyscallNumber.clockGettime, ClockID.monotonic, kernelAddress), efault,
                           "clock_gettime kernel address -EFAULT")
        report.expectEqual(syscall(SyscallNumber.uname, 0), efault, "uname NULL -EFAULT")
        report.expectEqual(syscall(SyscallNumber.uname, kernelAddress), efault, "uname kernel address -EFAULT")
        report.check(sys_getpid() > 0, "process survives bad pointers", "getpid failed")
        report.finish("efault")
    }
}
