// User/Programs/sysbench/main.swift: what the basic kernel operations cost,
// as seen from ring 3 (`make bench-qemu` boots it as init; it runs natively
// on Linux too). It measures and prints; it asserts nothing.
import UserRuntime

let pageSize = 4096
let megabyte = 1 << 20
let rw = Mman.PROT_READ | Mman.PROT_WRITE
let privateAnonymous = Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS

/// Prints "<name>: <ns> ns per op (<count> ops)".
func report(_ name: StaticString, start: Int, count: Int) {
    let elapsed = monotonicNanoseconds() - start
    put(name); put(": "); put(elapsed / count); put(" ns per op ("); put(count); put(" ops)"); newline()
}

@main
struct SystemBenchmark {
    /// Runs each measurement once and prints the results.
    static func main() {
        put("sysbench: nanoseconds per operation, monotonic clock"); newline()

        var start = monotonicNanoseconds()
        let syscalls = 100_000
        for _ in 0..<syscalls { _ = sys_getpid() }
        report("getpid", start: start, count: syscalls)

        start = monotonicNanoseconds()
        let pages = 2_000
        for _ in 0..<pages {
            let page = sys_mmap(0, pageSize, rw, privateAnonymous)
            UnsafeMutablePointer<UInt8>(bitPattern: page)![0] = 1
            _ = sys_munmap(page, pageSize)
        }
        report("mmap+touch+munmap 4 KiB", start: start, count: pages)

        start = monotonicNanoseconds()
        let blocks = 100
        for _ in 0..<blocks {
            let block = sys_mmap(0, megabyte, rw, privateAnonymous)
            _ = sys_munmap(block, megabyte)
        }
        report("mmap+munmap 1 MiB", start: start, count: blocks)

        flushOutput()
        start = monotonicNanoseconds()
        let forks = 50
        for _ in 0..<forks {
            let child = sys_fork()
            if child == 0 { sys_exit_group(0) }
            var status: Int32 = 0
            _ = sys_wait4(child, &status)
        }
        report("fork+exit+wait4", start: start, count: forks)

        let switches = 5_000
        flushOutput()
        start = monotonicNanoseconds()
        let partner = sys_fork()
        if partner == 0 {
            for _ in 0..<switches { _ = sys_sched_yield() }
            sys_exit_group(0)
        }
        for _ in 0..<switches { _ = sys_sched_yield() }
        var status: Int32 = 0
        _ = sys_wait4(partner, &status)
        report("sched_yield between two processes", start: start, count: 2 * switches)
    }
}
