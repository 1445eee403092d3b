// User/Tests/oom/main.swift: running out of memory is an error, not a
// crash. A child maps and touches 1 MiB blocks until mmap fails (it must
// fail with -ENOMEM) or a bound above the test machine's 256 MiB is
// reached (a Linux host with more memory just gets there). Memory is
// allocated at the first touch (demand paging, on Linux as here), so the
// child may instead be killed by SIGKILL when a touch finds no frame: Linux
// overcommits and its OOM killer sends SIGKILL; this kernel kills the
// faulting task. Either is fine; a wrong errno or any other death is not.
// While memory is exhausted, fork must fail cleanly or work and brk must
// refuse politely. After it frees everything (and after it exits) memory
// is usable again; the kernel's frame count at power-off proves nothing
// leaked. A sibling counting in shared memory (with a getpid per step, a
// barrier the optimiser cannot remove) must make progress while memory
// runs out: no allocation or fault keeps the CPU for long.
import UserRuntime

let pageSize = 4096
let blockSize = 1 << 20
let maximumBlocks = 320                 // 320 MiB: more than the QEMU machine has
let rw = Mman.PROT_READ | Mman.PROT_WRITE
let privateAnonymous = Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS
let brkProbe = 16 << 20
let sigkill = 9

/// The child's exit codes: which step went wrong.
enum ChildCode {
    static let ok = 0
    static let wrongMmapError = 10
    static let forkWhileExhaustedFailedBadly = 11
    static let brkWhileExhaustedMisbehaved = 12
    static let munmapFailed = 13
    static let mmapAfterFreeFailed = 14
}

/// Where the child keeps its block addresses (no heap needed).
nonisolated(unsafe) var blockAddresses = [Int](repeating: 0, count: maximumBlocks)

@main
struct OutOfMemoryTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        flushOutput()
        let shared = sys_mmap(0, pageSize, rw, Mman.MAP_SHARED | Mman.MAP_ANONYMOUS)
        guard shared > 0 else {
            report.check(false, "shared page for the sibling", "mmap failed")
            report.finish("oom")
            return
        }
        let counter = UnsafeMutablePointer<Int>(bitPattern: shared)!   // [0] count, [1] stop
        let sibling = sys_fork()
        if sibling == 0 {
            while counter[1] == 0 { counter[0] += 1; _ = sys_getpid() }
            sys_exit_group(0)
        }
        while counter[0] == 0 { _ = sys_sched_yield() }
        let before = counter[0]
        let child = sys_fork()
        if child == 0 { sys_exit_group(exhaustAndRecover()) }
        var status: Int32 = -1
        report.expectEqual(sys_wait4(child, &status), child, "child reaped")
        let signal = Int(WaitStatus(status).terminatingSignal)
        report.check(signal == 0 || signal == sigkill, "child exited or was OOM-killed", "killed by another signal")
        if signal == 0 {
            report.expectEqual(Int(WaitStatus(status).exitCode), ChildCode.ok, "child saw clean errors (code 0)")
        }

        let again = sys_mmap(0, blockSize, rw, privateAnonymous)
        report.check(again > 0, "memory usable after the child exited", "mmap failed")
        if again > 0 {
            user_touch(again, blockSize)
            report.expectEqual(sys_munmap(again, blockSize), 0, "munmap after recovery")
        }
        report.check(counter[0] > before, "sibling progressed while memory ran out", "the sibling never ran")
        counter[1] = 1
        var siblingStatus: Int32 = -1
        report.expectEqual(sys_wait4(sibling, &siblingStatus), sibling, "sibling reaped")
        report.finish("oom")
    }

    /// Maps blocks until -ENOMEM or the bound, probes fork and brk while
    /// exhausted, frees everything and maps once more. Returns a ChildCode.
    static func exhaustAndRecover() -> Int {
        var count = 0
        var exhausted = false
        while count < maximumBlocks {
            let block = sys_mmap(0, blockSize, rw, privateAnonymous)
            if block < 0 {
                guard block == -Errno.ENOMEM else { return ChildCode.wrongMmapError }
                exhausted = true
                break
            }
            user_touch(block, blockSize)
            blockAddresses[count] = block
            count += 1
        }
        if exhausted {
            let forked = sys_fork()
            if forked == 0 { sys_exit_group(0) }
            if forked > 0 {
                var status: Int32 = -1
                _ = sys_wait4(forked, &status)
            } else if forked != -Errno.ENOMEM && forked != -Errno.EAGAIN {
                return ChildCode.forkWhileExhaustedFailedBadly
            }
            let current = sys_brk(0)
            let grown = sys_brk(current + brkProbe)
            if grown != current && grown != current + brkProbe { return ChildCode.brkWhileExhaustedMisbehaved }
            if grown == current + brkProbe { _ = sys_brk(current) }
        }
        for index in 0..<count where sys_munmap(blockAddresses[index], blockSize) != 0 {
            return ChildCode.munmapFailed
        }
        let after = sys_mmap(0, blockSize, rw, privateAnonymous)
        guard after > 0 else { return ChildCode.mmapAfterFreeFailed }
        user_touch(after, blockSize)
        return ChildCode.ok
    }
}

/// Writes one byte per page of [address, address + length), so the
/// kernel really allocates.
func user_touch(_ address: Int, _ length: Int) {
    let bytes = UnsafeMutablePointer<UInt8>(bitPattern: address)!
    var offset = 0
    while offset < length {
        bytes[offset] = 1
        offset += pageSize
    }
}
