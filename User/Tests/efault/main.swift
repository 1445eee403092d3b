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

        // Linux reads nothing from /dev/null, so NULL may also give 0 there.
        let nullRead = syscall(SyscallNumber.read, stdinFd, 0, smallCount)
        report.check(nullRead == efault || nullRead == 0, "read NULL -EFAULT (or 0 at EOF)", "other result")
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
