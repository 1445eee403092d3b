// User/Tests/cow/main.swift: copy-on-write fork, in the spirit of Linux's
// selftests/mm/cow.c. Every check holds on Linux too (make test runs it
// natively first); on this kernel it runs with the VM invariant checker on.
// - fork while more than half of free RAM is allocated and written, twice
//   (the 256 MiB test machine has ~245 MiB free: only COW makes it fit);
// - three processes (parent, child, grandchild) writing the same COW pages;
// - the kernel writing into COW pages through syscalls (read, uname,
//   clock_gettime, wait4's status) in the child, the parent unchanged;
// - 100 nested forks, each checking and rewriting one COW page;
// - 300 processes alive at once sharing one COW page;
// - a written page reused in place after the child exits (contents stay).
// Children report through exit codes and never print.
import UserRuntime

let pageSize = 4096
let rw = Mman.PROT_READ | Mman.PROT_WRITE
let privateAnonymous = Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS
let sharedAnonymous = Mman.MAP_SHARED | Mman.MAP_ANONYMOUS
/// More than half of the free RAM of the QEMU test machine.
let bigBytes = 150 << 20
let nestedDepth = 100
let crowd = 300
let cowPages = 16

/// The word at `address`.
@inline(__always) func load(_ address: Int) -> Int { UnsafePointer<Int>(bitPattern: address)!.pointee }
@inline(__always) func store(_ value: Int, _ address: Int) { UnsafeMutablePointer<Int>(bitPattern: address)!.pointee = value }

/// Waits for `pid`; its exit code, or 1000 + signal if it was killed.
func reap(_ pid: Int) -> Int {
    var status: Int32 = -1
    guard sys_wait4(pid, &status) == pid else { return -1 }
    let signal = WaitStatus(status).terminatingSignal
    return signal != 0 ? 1000 + Int(signal) : Int(WaitStatus(status).exitCode)
}

/// Writes `value + page` at the start of each page of [base, base + pages).
func fill(_ base: Int, pages: Int, _ value: Int) {
    for page in 0..<pages { store(value + page, base + page * pageSize) }
}

/// True if each page of [base, base + pages) holds `value + page`.
func holds(_ base: Int, pages: Int, _ value: Int) -> Bool {
    for page in 0..<pages where load(base + page * pageSize) != value + page { return false }
    return true
}

@main
struct CopyOnWriteTest {
    static func main() {
        var report = TestReport()
        forkWithMostMemoryAllocated(&report)
        threeWriters(&report)
        kernelWritesIntoCopyOnWritePages(&report)
        nestedForks(&report)
        crowdSharingOnePage(&report)
        reuseAfterTheChildExits(&report)
        report.finish("cow")
    }

    /// Fork twice with 150 MiB written; the child reads it all and writes a few pages.
    static func forkWithMostMemoryAllocated(_ report: inout TestReport) {
        let big = sys_mmap(0, bigBytes, rw, privateAnonymous)
        report.check(big > 0, "map 150 MiB", "mmap failed")
        guard big > 0 else { return }
        let pages = bigBytes / pageSize
        fill(big, pages: pages, 7)
        for round in 0..<2 {
            let child = sys_fork()
            if child == 0 {
                guard holds(big, pages: pages, 7) else { sys_exit_group(2) }
                fill(big, pages: 8, 100)          // a few private copies
                sys_exit_group(holds(big, pages: 8, 100) ? 0 : 3)
            }
            report.check(child > 0, round == 0 ? "fork with 150 MiB written" : "fork with 150 MiB written again",
                         "fork failed")
            report.expectEqual(reap(child), 0, "child saw the parent's 150 MiB and wrote its own copies")
        }
        report.check(holds(big, pages: pages, 7), "parent's 150 MiB unchanged by the children", "changed")
        report.expectEqual(sys_munmap(big, bigBytes), 0, "unmap 150 MiB")
    }

    /// Parent, child and grandchild each write their own values into the same COW pages.
    static func threeWriters(_ report: inout TestReport) {
        let base = sys_mmap(0, cowPages * pageSize, rw, privateAnonymous)
        let results = sys_mmap(0, pageSize, rw, sharedAnonymous)
        guard base > 0, results > 0 else { report.check(false, "three writers: mappings", "mmap failed"); return }
        fill(base, pages: cowPages, 1000)
        let child = sys_fork()
        if child == 0 {
            let grandchild = sys_fork()
            if grandchild == 0 {
                let sawOriginal = holds(base, pages: cowPages, 1000)
                fill(base, pages: cowPages, 3000)
                sys_sched_yield()
                store(sawOriginal && holds(base, pages: cowPages, 3000) ? 1 : 2, results + 16)
                sys_exit_group(0)
            }
            let sawOriginal = holds(base, pages: cowPages, 1000)
            fill(base, pages: cowPages, 2000)
            _ = reap(grandchild)
            store(sawOriginal && holds(base, pages: cowPages, 2000) ? 1 : 2, results + 8)
            sys_exit_group(0)
        }
        fill(base, pages: cowPages / 2, 5000)
        _ = reap(child)
        report.expectEqual(load(results + 8), 1, "child saw the original and kept its own writes")
        report.expectEqual(load(results + 16), 1, "grandchild saw the original and kept its own writes")
        report.check(holds(base, pages: cowPages / 2, 5000), "parent kept its writes", "changed")
        report.check(holds(base + cowPages / 2 * pageSize, pages: cowPages / 2, 1000 + cowPages / 2),
                     "parent's untouched pages kept the original", "changed")
        _ = sys_munmap(base, cowPages * pageSize)
        _ = sys_munmap(results, pageSize)
    }

    /// The kernel writes into the child's COW pages (read, uname,
    /// clock_gettime, wait4's status); the parent's pages stay.
    static func kernelWritesIntoCopyOnWritePages(_ report: inout TestReport) {
        let pages = 5
        let base = sys_mmap(0, pages * pageSize, rw, privateAnonymous)
        guard base > 0 else { report.check(false, "kernel writes: mapping", "mmap failed"); return }
        for page in 0..<pages {
            for offset in stride(from: 0, to: pageSize, by: 8) { store(0x5A5A, base + page * pageSize + offset) }
        }
        let child = sys_fork()
        if child == 0 {
            guard let path = ProcessInfo.argument(0) else { sys_exit_group(10) }
            // Our own binary: argv[0] is its path under runtests and
            // natively, but only its name when the shell found it in /bin.
            var fd = sys_open(path, 0)
            if fd < 0 {
                var inBin: [CChar] = Array("/bin/".utf8CString.dropLast())
                var next = path
                while next.pointee != 0 { inBin.append(next.pointee); next += 1 }
                inBin.append(0)
                fd = inBin.withUnsafeBufferPointer { sys_open($0.baseAddress!, 0) }
            }
            guard fd >= 0 else { sys_exit_group(11) }
            guard sys_read(fd, UnsafeMutableRawPointer(bitPattern: base), 4) == 4,
                  load(base) & 0xFFFF_FFFF == 0x464C_457F else { sys_exit_group(12) }       // "\x7fELF"
            guard sys_uname(UnsafeMutableRawPointer(bitPattern: base + pageSize)) == 0,
                  load(base + pageSize) != 0x5A5A else { sys_exit_group(13) }
            guard syscall(SyscallNumber.clockGettime, ClockID.monotonic, base + 2 * pageSize) == 0,
                  load(base + 2 * pageSize + 8) != 0x5A5A else { sys_exit_group(14) }
            let grandchild = sys_fork()
            if grandchild == 0 { sys_exit_group(77) }
            guard syscall(SyscallNumber.wait4, grandchild, base + 3 * pageSize, 0, 0) == grandchild,
                  load(base + 3 * pageSize) & 0xFFFF_FFFF == 77 << 8 else { sys_exit_group(15) }
            sys_exit_group(0)
        }
        report.expectEqual(reap(child), 0, "read, uname, clock_gettime and wait4 wrote the child's COW pages")
        var unchanged = true
        for page in 0..<pages {
            for offset in stride(from: 0, to: pageSize, by: 8) where load(base + page * pageSize + offset) != 0x5A5A {
                unchanged = false
            }
        }
        report.check(unchanged, "the parent's pages are unchanged by the kernel's writes", "changed")
        _ = sys_munmap(base, pages * pageSize)
    }

    /// 100 nested forks: each level checks the page holds its parent's
    /// level, writes its own, and exits with 0 only if all below did.
    static func nestedForks(_ report: inout TestReport) {
        let page = sys_mmap(0, pageSize, rw, privateAnonymous)
        guard page > 0 else { report.check(false, "nested forks: mapping", "mmap failed"); return }
        store(0, page)
        var level = 0
        while level < nestedDepth {
            let child = sys_fork()
            if child < 0 { sys_exit_group(level == 0 ? 99 : 1) }
            if child > 0 {
                let below = reap(child)
                let kept = load(page) == level
                if level == 0 {
                    report.expectEqual(below, 0, "100 nested forks each saw its parent's value")
                    report.check(kept, "the top process kept its value", "changed")
                    _ = sys_munmap(page, pageSize)
                    return
                }
                sys_exit_group(below == 0 && kept ? 0 : 1)
            }
            level += 1
            guard load(page) == level - 1 else { sys_exit_group(1) }
            store(level, page)
        }
        sys_exit_group(0)      // the deepest child
    }

    /// 300 children alive at once, each reading the parent's COW page;
    /// they say they are ready in a shared page and wait for a go.
    static func crowdSharingOnePage(_ report: inout TestReport) {
        let page = sys_mmap(0, pageSize, rw, privateAnonymous)
        let board = sys_mmap(0, pageSize, rw, sharedAnonymous)
        guard page > 0, board > 0 else { report.check(false, "crowd: mappings", "mmap failed"); return }
        store(0xC0C0, page)
        let ready = UnsafeMutablePointer<UInt8>(bitPattern: board)!
        let go = board + pageSize - 8
        var children = [Int](repeating: 0, count: crowd)
        var started = 0
        while started < crowd {
            let child = sys_fork()
            if child == 0 {
                let index = started
                let saw = load(page) == 0xC0C0
                ready[index] = saw ? 1 : 2
                while load(go) == 0 { sys_sched_yield() }
                sys_exit_group(saw && load(page) == 0xC0C0 ? 0 : 1)
            }
            if child < 0 { break }
            children[started] = child
            started += 1
        }
        report.expectEqual(started, crowd, "300 children forked")
        var allReady = false
        while !allReady {
            allReady = true
            for index in 0..<started where ready[index] == 0 { allReady = false }
            if !allReady { sys_sched_yield() }
        }
        var sawIt = 0
        for index in 0..<started where ready[index] == 1 { sawIt += 1 }
        report.expectEqual(sawIt, started, "300 processes alive at once read the shared COW page")
        store(0xDEAD, page)     // the parent's write copies or reuses; children keep theirs
        store(1, go)
        var clean = 0
        for index in 0..<started where reap(children[index]) == 0 { clean += 1 }
        report.expectEqual(clean, started, "every child still saw the original after the parent wrote")
        _ = sys_munmap(page, pageSize)
        _ = sys_munmap(board, pageSize)
    }

    /// After the child exits, the parent's write finds the frame its own
    /// again (reuse in place: nothing to observe but the contents).
    static func reuseAfterTheChildExits(_ report: inout TestReport) {
        let base = sys_mmap(0, cowPages * pageSize, rw, privateAnonymous)
        guard base > 0 else { report.check(false, "reuse: mapping", "mmap failed"); return }
        fill(base, pages: cowPages, 40)
        let child = sys_fork()
        if child == 0 { sys_exit_group(0) }
        _ = reap(child)
        for page in 0..<cowPages { store(load(base + page * pageSize) + 1, base + page * pageSize) }
        report.check(holds(base, pages: cowPages, 41), "writes after the child exited keep the contents", "lost")
        _ = sys_munmap(base, cowPages * pageSize)
    }
}
