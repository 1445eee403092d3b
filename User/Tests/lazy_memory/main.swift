// User/Tests/lazy_memory/main.swift: memory is allocated when touched,
// not when mapped (Linux do_anonymous_page), and shared anonymous memory
// is one object across fork. Every check holds on Linux too.
// - a 16 GiB MAP_NORESERVE mapping touched in three places;
// - a 2 GiB read-only mapping read on every page (only the shared zero
//   page makes that fit in the 256 MiB test machine);
// - MAP_SHARED|MAP_ANONYMOUS memory seen across fork in both directions,
//   and MAP_SHARED_VALIDATE's errors (EINVAL for anonymous memory on
//   Linux; EOPNOTSUPP for an unknown flag on a file);
// - a private file mapping: the file's bytes, zeros after the end of the
//   file in its last page, SIGBUS on a page wholly past the end, private
//   writes;
// - read(2) into an untouched buffer (the kernel's copy faults it in).
import UserRuntime

let pageSize = 4096
let rw = Mman.PROT_READ | Mman.PROT_WRITE
let privateAnonymous = Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS
let sharedAnonymous = Mman.MAP_SHARED | Mman.MAP_ANONYMOUS
let hugeBytes = 16 << 30
let readOnlyBytes = 2 << 30
let sigbus: Int32 = 7

@inline(__always) func load(_ address: Int) -> Int { UnsafePointer<Int>(bitPattern: address)!.pointee }
@inline(__always) func store(_ value: Int, _ address: Int) { UnsafeMutablePointer<Int>(bitPattern: address)!.pointee = value }

/// Waits for `pid`; its raw wait status.
func waitStatus(_ pid: Int) -> WaitStatus {
    var status: Int32 = -1
    _ = sys_wait4(pid, &status)
    return WaitStatus(status)
}

@main
struct LazyMemoryTest {
    static func main() {
        var report = TestReport()
        hugeNoReserve(&report)
        readOnlyZeroPages(&report)
        sharedAcrossFork(&report)
        sharedValidate(&report)
        privateFileMapping(&report)
        readIntoUntouchedBuffer(&report)
        report.finish("lazy_memory")
    }

    static func hugeNoReserve(_ report: inout TestReport) {
        let huge = sys_mmap(0, hugeBytes, rw, privateAnonymous | Mman.MAP_NORESERVE)
        report.check(huge > 0, "map 16 GiB MAP_NORESERVE", "mmap failed")
        guard huge > 0 else { return }
        let places = [0, hugeBytes / 2 + 123 * pageSize, hugeBytes - 8]
        for (index, offset) in places.enumerated() { store(0x1600 + index, huge + offset) }
        var kept = true
        for (index, offset) in places.enumerated() where load(huge + offset) != 0x1600 + index { kept = false }
        report.check(kept, "16 GiB: three touched places keep their values", "lost")
        report.expectEqual(load(huge + pageSize), 0, "16 GiB: an untouched page reads as zero")
        report.expectEqual(sys_munmap(huge, hugeBytes), 0, "unmap 16 GiB")
    }

    static func readOnlyZeroPages(_ report: inout TestReport) {
        let region = sys_mmap(0, readOnlyBytes, Mman.PROT_READ, privateAnonymous)
        report.check(region > 0, "map 2 GiB read-only", "mmap failed")
        guard region > 0 else { return }
        var sum = 0
        var offset = 0
        while offset < readOnlyBytes {
            sum |= load(region + offset)
            offset += pageSize
        }
        report.expectEqual(sum, 0, "every page of 2 GiB read-only memory reads as zero")
        report.expectEqual(sys_munmap(region, readOnlyBytes), 0, "unmap 2 GiB")
    }

    static func sharedAcrossFork(_ report: inout TestReport) {
        let pages = 4
        let shared = sys_mmap(0, pages * pageSize, rw, sharedAnonymous)
        report.check(shared > 0, "map shared anonymous memory", "mmap failed")
        guard shared > 0 else { return }
        store(11, shared)                         // touched before fork
        let child = sys_fork()
        if child == 0 {
            guard load(shared) == 11 else { sys_exit_group(2) }
            store(22, shared + pageSize)          // untouched before fork
            store(33, shared)
            while load(shared + 2 * pageSize) != 44 { sys_sched_yield() }
            sys_exit_group(load(shared + 3 * pageSize) == 0 ? 0 : 3)
        }
        while load(shared) != 33 { sys_sched_yield() }
        report.expectEqual(load(shared + pageSize), 22, "the parent sees the child's write to a fresh shared page")
        store(44, shared + 2 * pageSize)
        let status = waitStatus(child)
        report.expectEqual(Int(status.exitCode), 0, "the child saw the parent's writes")
        report.expectEqual(load(shared), 33, "the child's write to a page shared before fork is seen")
        report.expectEqual(sys_munmap(shared, pages * pageSize), 0, "unmap shared memory")
    }

    static func sharedValidate(_ report: inout TestReport) {
        let anonymous = sys_mmap(0, pageSize, rw, Mman.MAP_SHARED_VALIDATE | Mman.MAP_ANONYMOUS)
        report.expectEqual(anonymous, -Errno.EINVAL, "MAP_SHARED_VALIDATE|MAP_ANONYMOUS is EINVAL (as on Linux)")
        guard let path = ProcessInfo.argument(0) else { return }
        let fd = sys_open(path, 0)
        guard fd >= 0 else { report.check(false, "open own binary", "open failed"); return }
        let mapped = sys_mmap(0, pageSize, Mman.PROT_READ, Mman.MAP_SHARED_VALIDATE, fd, 0)
        report.check(mapped > 0, "MAP_SHARED_VALIDATE of a file, read-only", "mmap failed")
        if mapped > 0 { _ = sys_munmap(mapped, pageSize) }
        let unknown = sys_mmap(0, pageSize, Mman.PROT_READ, Mman.MAP_SHARED_VALIDATE | 0x20_0000, fd, 0)
        report.expectEqual(unknown, -Errno.EOPNOTSUPP, "MAP_SHARED_VALIDATE with an unknown flag is EOPNOTSUPP")
        let writable = sys_mmap(0, pageSize, rw, Mman.MAP_SHARED, fd, 0)
        report.expectEqual(writable, -Errno.EACCES, "MAP_SHARED|PROT_WRITE of a read-only fd is EACCES")
        let noType = sys_mmap(0, pageSize, Mman.PROT_READ, 0, fd, 0)
        report.expectEqual(noType, -Errno.EINVAL, "mmap without a map type is EINVAL")
        _ = sys_close(fd)
    }

    static func privateFileMapping(_ report: inout TestReport) {
        guard let path = ProcessInfo.argument(0) else { return }
        let fd = sys_open(path, 0)
        guard fd >= 0 else { report.check(false, "open own binary", "open failed"); return }
        // The size, by reading the whole file once.
        var size = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { sys_read(fd, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            size += got
        }
        let filePages = (size + pageSize - 1) / pageSize
        let mapping = sys_mmap(0, (filePages + 1) * pageSize, rw, Mman.MAP_PRIVATE, fd, 0)
        _ = sys_close(fd)
        report.check(mapping > 0, "private file mapping one page longer than the file", "mmap failed")
        guard mapping > 0 else { return }
        report.expectEqual(load(mapping) & 0xFFFF_FFFF, 0x464C_457F, "the mapping holds the file's bytes")
        if size % pageSize != 0 {
            let tail = UnsafePointer<UInt8>(bitPattern: mapping + size)!
            var zero = true
            for index in 0..<(pageSize - size % pageSize) where tail[index] != 0 { zero = false }
            report.check(zero, "bytes past the end of the file in its last page read as zero", "not zero")
        }
        store(0x7777, mapping)
        report.expectEqual(load(mapping), 0x7777, "a private file mapping is writable")
        let child = sys_fork()
        if child == 0 {
            // Wholly past the end: SIGBUS (the value is used so the load stays).
            sys_exit_group(load(mapping + filePages * pageSize) == 0x5EED ? 5 : 0)
        }
        report.expectEqual(Int(waitStatus(child).terminatingSignal), Int(sigbus), "a page wholly past the end of the file is SIGBUS")
        let again = sys_open(path, 0)
        var first: Int = 0
        _ = sys_read(again, &first, 8)
        _ = sys_close(again)
        report.check(first != 0x7777, "a private write does not reach the file", "it did")
        _ = sys_munmap(mapping, (filePages + 1) * pageSize)
    }

    static func readIntoUntouchedBuffer(_ report: inout TestReport) {
        guard let path = ProcessInfo.argument(0) else { return }
        let buffer = sys_mmap(0, 4 * pageSize, rw, privateAnonymous)
        let fd = sys_open(path, 0)
        guard buffer > 0, fd >= 0 else { report.check(false, "read into untouched: setup", "failed"); return }
        let got = sys_read(fd, UnsafeMutableRawPointer(bitPattern: buffer + 100), 3 * pageSize)
        report.expectEqual(got, 3 * pageSize, "read(2) fills an untouched buffer across pages")
        report.expectEqual(load(buffer + 100) & 0xFFFF_FFFF, 0x464C_457F, "with the file's bytes")
        _ = sys_close(fd)
        _ = sys_munmap(buffer, 4 * pageSize)
    }
}
