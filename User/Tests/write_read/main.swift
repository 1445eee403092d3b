// User/Tests/write_read/main.swift: write(2) and read(2) results: byte
// counts on fds 1 and 2, -EBADF for a closed fd, -EFAULT for a bad buffer.
// Works with stdin at EOF (/dev/null on Linux) or on the serial console: it
// never waits for input (reads use count 0 or a buffer that must fault).
import UserRuntime

let badFd = 99
let kernelAddress = Int(bitPattern: 0xffff_8000_0000_0000 as UInt)

@main
struct WriteReadTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        let line: StaticString = "write_read: direct write to fd 1\n"
        flushOutput()
        report.expectEqual(sys_write(1, line.utf8Start, line.utf8CodeUnitCount), line.utf8CodeUnitCount,
                           "write fd 1 returns byte count")
        let errLine: StaticString = "write_read: direct write to fd 2\n"
        report.expectEqual(sys_write(2, errLine.utf8Start, errLine.utf8CodeUnitCount), errLine.utf8CodeUnitCount,
                           "write fd 2 returns byte count")
        report.expectEqual(sys_write(1, line.utf8Start, 0), 0, "write count 0 returns 0")
        report.expectEqual(sys_write(badFd, line.utf8Start, 1), -Errno.EBADF, "write bad fd -EBADF")
        report.expectEqual(sys_write(-1, line.utf8Start, 1), -Errno.EBADF, "write fd -1 -EBADF")

        var byte: UInt8 = 0
        let zeroRead = withUnsafeMutablePointer(to: &byte) { sys_read(0, $0, 0) }
        report.check(zeroRead >= 0, "read fd 0 count 0 returns >= 0", "negative result")
        let faultRead = syscall(SyscallNumber.read, 0, kernelAddress, 1)
        report.expectEqual(faultRead, -Errno.EFAULT, "read into kernel address -EFAULT")
        let badFdRead = withUnsafeMutablePointer(to: &byte) { sys_read(badFd, $0, 1) }
        report.expectEqual(badFdRead, -Errno.EBADF, "read bad fd -EBADF")
        report.finish("write_read")
    }
}
