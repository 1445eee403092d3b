// User/Tests/brk/main.swift: the program break. brk(0) reports it, growing
// gives writable zeroed memory, shrinking releases it (a child touching
// released memory dies with SIGSEGV), re-growing gives zeroed pages again,
// and a request below the image is refused by returning the current break.
import UserRT
import UserRuntime

let pageSize = 4096
let growBy = 16 * pageSize
let keepAfterShrink = pageSize
let regrowTo = 8 * pageSize
let fillByte: UInt8 = 0x5a

@main
struct BrkTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        let initial = sys_brk(0)
        report.check(initial > 0, "brk(0) returns the break", "brk(0) failed")
        report.check(UInt(initial) >= user_image_end(), "initial break at or above image end", "break inside the image")
        report.expectEqual(sys_brk(0), initial, "brk(0) stable")

        report.expectEqual(sys_brk(initial + growBy), initial + growBy, "grow by 64 KiB")
        let heap = UnsafeMutablePointer<UInt8>(bitPattern: initial)!
        var zeroed = true
        for i in 0..<growBy where heap[i] != 0 { zeroed = false }
        report.check(zeroed, "new break memory zero-filled", "non-zero byte")
        for i in 0..<growBy { heap[i] = fillByte &+ UInt8(truncatingIfNeeded: i) }
        var intact = true
        for i in 0..<growBy where heap[i] != fillByte &+ UInt8(truncatingIfNeeded: i) { intact = false }
        report.check(intact, "write/read grown memory", "pattern mismatch")
        report.expectEqual(sys_brk(0), initial + growBy, "brk(0) after grow")

        report.expectEqual(sys_brk(initial + keepAfterShrink), initial + keepAfterShrink, "shrink")
        report.check(heap[0] == fillByte, "memory below shrunk break kept", "first byte lost")
        report.expectEqual(sys_brk(initial + regrowTo), initial + regrowTo, "grow again")
        let firstFreshPage = (initial + keepAfterShrink + pageSize - 1) / pageSize * pageSize
        var fresh = true
        for address in firstFreshPage..<(initial + regrowTo) where heap[address - initial] != 0 { fresh = false }
        report.check(fresh, "re-grown pages zero-filled", "stale data after shrink+grow")

        report.expectEqual(sys_brk(pageSize), initial + regrowTo, "brk below image refused (returns current)")
        report.expectEqual(sys_brk(initial), initial, "shrink back to initial")

        // Released memory is gone: a child writing there must fault.
        let released = (initial + pageSize - 1) / pageSize * pageSize + 2 * pageSize
        let child = sys_fork()
        if child == 0 {
            user_store_byte(UInt(released), fillByte)
            sys_exit_group(0)
        }
        var status: Int32 = -1
        _ = sys_wait4(child, &status)
        report.expectEqual(Int(WaitStatus(status).terminatingSignal), Int(Signal.SIGSEGV),
                           "write above shrunk break SIGSEGV")
        report.finish("brk")
    }
}
