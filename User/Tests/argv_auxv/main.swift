// User/Tests/argv_auxv/main.swift: the initial process stack as the loader
// built it: argc/argv/envp layout, 16-byte RSP alignment, and the auxiliary
// vector (AT_PHDR/AT_PHENT/AT_PHNUM/AT_PAGESZ/AT_ENTRY/AT_RANDOM).
//
// Run it either with no arguments or with exactly `alpha "beta gamma"`
// (the native runner does the latter, proving a space survives inside one
// argument). If USER_TEST_ENV is in the environment it must be "yes".
import UserRT
import UserRuntime

let pageSize: UInt64 = 4096
let elf64ProgramHeaderSize: UInt64 = 56
let ptLoad: UInt32 = 1
let pfExecute: UInt32 = 1
let elfPhoffOffset = 32, elfPhnumOffset = 56
let randomByteCount = 16

@main
struct ArgvAuxvTest {
    /// Runs every check and exits 0 only if all passed.
    static func main() {
        var report = TestReport()
        checkArguments(&report)
        checkEnvironment(&report)
        checkAuxv(&report)
        report.finish("argv_auxv")
    }

    /// argc, argv[] contents and the NULL after them; entry RSP alignment.
    static func checkArguments(_ report: inout TestReport) {
        let argc = ProcessInfo.argc
        report.check(argc >= 1, "argc at least 1", "argc is 0")
        report.check(ProcessInfo.initialStackPointer % 16 == 0, "rsp 16-byte aligned at _start", "misaligned entry RSP")
        report.check(ProcessInfo.argvBase[argc] == nil, "argv[argc] is NULL", "argv not NULL-terminated")
        if let argv0 = ProcessInfo.argument(0) {
            report.check(cStringLength(argv0) > 0, "argv[0] non-empty", "argv[0] is empty")
        } else {
            report.check(false, "argv[0] non-empty", "argv[0] is NULL")
        }
        if argc > 1 {
            report.expectEqual(argc, 3, "argc with arguments")
            report.check(cStringEquals(ProcessInfo.argument(1), "alpha"), "argv[1] == alpha", "wrong argv[1]")
            report.check(cStringEquals(ProcessInfo.argument(2), "beta gamma"), "argv[2] == beta gamma", "wrong argv[2]")
        }
        // Strings sit above the pointer arrays and the auxv (Linux layout).
        let auxvEnd = UInt(bitPattern: ProcessInfo.auxvBase) + UInt(16 * (ProcessInfo.auxvCount + 1))
        var above = true
        for index in 0..<argc where UInt(bitPattern: ProcessInfo.argument(index)) < auxvEnd { above = false }
        report.check(above, "argv strings above auxv", "an argv string lies below the auxv end")
    }

    /// envp is NULL-terminated, its strings are readable and above the auxv.
    static func checkEnvironment(_ report: inout TestReport) {
        let count = ProcessInfo.environmentCount
        var wellFormed = true
        let auxvStart = UInt(bitPattern: ProcessInfo.auxvBase)
        for index in 0..<count {
            let entry = ProcessInfo.envpBase[index]!
            if UInt(bitPattern: entry) < auxvStart || cStringLength(entry) == 0 { wellFormed = false }
        }
        report.check(wellFormed, "envp strings readable and above auxv", "bad envp entry")
        let expectedAuxv = UInt(bitPattern: ProcessInfo.envpBase) + UInt(8 * (count + 1))
        report.check(UInt(bitPattern: ProcessInfo.auxvBase) == expectedAuxv, "auxv follows envp NULL", "auxv misplaced")
        if let marker = ProcessInfo.environment(withPrefix: "USER_TEST_ENV=") {
            report.check(cStringEquals(marker, "USER_TEST_ENV=yes"), "envp USER_TEST_ENV=yes", "wrong USER_TEST_ENV value")
        }
    }

    /// Each auxv entry the kernel promises, checked against the image itself.
    static func checkAuxv(_ report: inout TestReport) {
        let header = UnsafeRawPointer(bitPattern: user_elf_header())!
        let phoff = header.loadUnaligned(fromByteOffset: elfPhoffOffset, as: UInt64.self)
        let phnum = header.loadUnaligned(fromByteOffset: elfPhnumOffset, as: UInt16.self)

        let phdr = ProcessInfo.auxv(AuxKey.AT_PHDR) ?? 0
        report.check(phdr != 0, "AT_PHDR present", "missing")
        report.check(phdr == UInt64(user_elf_header()) + phoff, "AT_PHDR == image base + e_phoff", "wrong address")
        report.check(ProcessInfo.auxv(AuxKey.AT_PHENT) == elf64ProgramHeaderSize, "AT_PHENT == 56", "missing or wrong")
        report.check(ProcessInfo.auxv(AuxKey.AT_PHNUM) == UInt64(phnum), "AT_PHNUM == e_phnum", "missing or wrong")
        report.check(ProcessInfo.auxv(AuxKey.AT_PAGESZ) == pageSize, "AT_PAGESZ == 4096", "missing or wrong")
        let entry = ProcessInfo.auxv(AuxKey.AT_ENTRY) ?? 0
        report.check(entry == UInt64(user_entry_address()), "AT_ENTRY == _start", "missing or wrong")
        if phdr != 0 {
            report.check(entryInExecutableLoad(phdr: phdr, count: Int(phnum), entry: entry),
                         "AT_PHDR headers: entry in an executable PT_LOAD", "no executable PT_LOAD holds the entry")
        }
        if let random = ProcessInfo.auxv(AuxKey.AT_RANDOM), random != 0 {
            let bytes = UnsafePointer<UInt8>(bitPattern: UInt(random))!
            var orAll: UInt8 = 0
            for i in 0..<randomByteCount { orAll |= bytes[i] }
            report.check(orAll != 0, "AT_RANDOM 16 readable bytes", "all zero")
        } else {
            report.check(false, "AT_RANDOM 16 readable bytes", "missing")
        }
    }

    /// True when one PT_LOAD among the `count` headers at `phdr` is
    /// executable and contains `entry`.
    static func entryInExecutableLoad(phdr: UInt64, count: Int, entry: UInt64) -> Bool {
        let table = UnsafeRawPointer(bitPattern: UInt(phdr))!
        for index in 0..<count {
            let header = table + index * Int(elf64ProgramHeaderSize)
            let type = header.loadUnaligned(as: UInt32.self)
            let flags = header.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let vaddr = header.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            let memsz = header.loadUnaligned(fromByteOffset: 40, as: UInt64.self)
            if type == ptLoad, flags & pfExecute != 0, entry >= vaddr, entry - vaddr < memsz { return true }
        }
        return false
    }
}
