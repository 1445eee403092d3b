// User/Tests/mmap/main.swift: anonymous private mappings. mmap gives
// page-aligned zeroed RW memory; mprotect(PROT_READ) makes a child's write
// die with SIGSEGV while the parent can still read; munmap makes any access
// fault; MAP_FIXED honours the address; bad arguments give -EINVAL.
import UserRT
import UserRuntime

let pageSize = 4096
let mappingPages = 2
let largeLength = 4 * 1024 * 1024
let fixedAddress = 0x1000_0000
let patternBase: UInt8 = 0x33
let rw = Mman.PROT_READ | Mman.PROT_WRITE
let privateAnonymous = Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS

@main
struct MmapTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        let length = mappingPages * pageSize
        let base = sys_mmap(0, length, rw, privateAnonymous)
        guard base > 0 else {
            report.fail("mmap anonymous RW", "mmap returned", value: base)
            report.finish("mmap")
        }
        report.pass("mmap anonymous RW")
        report.expectEqual(base % pageSize, 0, "mapping page-aligned")
        let bytes = UnsafeMutablePointer<UInt8>(bitPattern: base)!
        var zeroed = true
        for i in 0..<length where bytes[i] != 0 { zeroed = false }
        report.check(zeroed, "mapping zero-filled", "non-zero byte")
        for i in 0..<length { bytes[i] = patternBase &+ UInt8(truncatingIfNeeded: i / 7) }
        var intact = true
        for i in 0..<length where bytes[i] != patternBase &+ UInt8(truncatingIfNeeded: i / 7) { intact = false }
        report.check(intact, "write/read mapping", "pattern mismatch")

        report.expectEqual(sys_mprotect(base, pageSize, Mman.PROT_READ), 0, "mprotect first page read-only")
        report.check(bytes[0] == patternBase, "read-only page still readable", "content changed")
        report.expectEqual(childSignal { user_store_byte(UInt(base), 1) }, Int(Signal.SIGSEGV),
                           "write to read-only page SIGSEGV")
        report.expectEqual(childSignal { user_store_byte(UInt(base + pageSize), 1) }, 0,
                           "second page still writable")

        report.expectEqual(sys_munmap(base, length), 0, "munmap")
        report.expectEqual(childSignal { _ = user_load_byte(UInt(base)) }, Int(Signal.SIGSEGV),
                           "read after munmap SIGSEGV")

        report.expectEqual(sys_mmap(0, 0, rw, privateAnonymous), -Errno.EINVAL, "mmap length 0 -EINVAL")
        report.expectEqual(sys_munmap(base + 1, pageSize), -Errno.EINVAL, "munmap unaligned -EINVAL")
        report.expectEqual(sys_mprotect(base + 1, pageSize, Mman.PROT_READ), -Errno.EINVAL, "mprotect unaligned -EINVAL")
        let topPage = Int(bitPattern: 0xffff_ffff_ffff_f000 as UInt)
        report.expectEqual(sys_munmap(topPage, pageSize), -Errno.EINVAL, "munmap of the last page of 2^64 -EINVAL")
        report.expectEqual(sys_mprotect(topPage, pageSize, Mman.PROT_READ), -Errno.ENOMEM,
                           "mprotect range wrapping 2^64 -ENOMEM")
        report.expectEqual(sys_mmap(topPage, pageSize, rw, privateAnonymous | Mman.MAP_FIXED), -Errno.ENOMEM,
                           "MAP_FIXED in the kernel half -ENOMEM")

        let fixed = sys_mmap(fixedAddress, pageSize, rw, privateAnonymous | Mman.MAP_FIXED)
        report.expectEqual(fixed, fixedAddress, "MAP_FIXED at 0x10000000")
        if fixed == fixedAddress {
            user_store_byte(UInt(fixedAddress), patternBase)
            report.check(user_load_byte(UInt(fixedAddress)) == patternBase, "MAP_FIXED memory usable", "mismatch")
            _ = sys_munmap(fixedAddress, pageSize)
        }

        let large = sys_mmap(0, largeLength, rw, privateAnonymous)
        report.check(large > 0, "mmap 4 MiB", "mmap failed")
        if large > 0 {
            user_store_byte(UInt(large), 1)
            user_store_byte(UInt(large + largeLength - 1), 2)
            report.check(user_load_byte(UInt(large)) == 1 && user_load_byte(UInt(large + largeLength - 1)) == 2,
                         "4 MiB mapping first and last byte", "mismatch")
            report.expectEqual(sys_munmap(large, largeLength), 0, "munmap 4 MiB")
        }
        report.finish("mmap")
    }

    /// Runs `body` in a child that then exits 0; returns the signal that
    /// killed the child (0 if it exited normally, -1 if fork/wait failed).
    static func childSignal(_ body: () -> Void) -> Int {
        let child = sys_fork()
        if child == 0 {
            body()
            sys_exit_group(0)
        }
        var status: Int32 = -1
        guard child > 0, sys_wait4(child, &status) == child else { return -1 }
        return Int(WaitStatus(status).terminatingSignal)
    }
}
