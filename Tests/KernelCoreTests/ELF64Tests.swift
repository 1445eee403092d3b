// Host tests of the ELF64 validator (Kernel/Loader/ELF64.swift): headers are
// built here field by field so each rule is broken on purpose, and the real
// user binaries (build/user/bin, from `make user`) must all be accepted.
import Foundation
import Testing
@testable import KernelCore

/// One program header for ELFBuilder.
struct TestProgramHeader {
    var type: UInt32 = 1               // PT_LOAD
    var flags: UInt32 = 5              // R-X
    var offset: UInt64 = 0
    var vaddr: UInt64 = 0x40_0000
    var filesz: UInt64 = 0x100
    var memsz: UInt64 = 0x100
}

/// Builds an ELF64 executable image: header, program headers right after
/// it, then zero padding up to `fileSize`.
struct ELFBuilder {
    static let R: UInt32 = 4, W: UInt32 = 2, X: UInt32 = 1
    var ident: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]
    var type: UInt16 = 2
    var machine: UInt16 = 62
    var version: UInt32 = 1
    var entry: UInt64 = 0x40_0080
    var phoff: UInt64 = 64
    var phentsize: UInt16 = 56
    var phnum: UInt16? = nil           // default: headers.count
    var headers: [TestProgramHeader] = [TestProgramHeader()]
    var fileSize = 0x3000

    func bytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(fileSize, 64 + headers.count * 56))
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() where offset + i < out.count { out[offset + i] = b } }
        }
        for (i, b) in ident.enumerated() { out[i] = b }
        put(type, at: 16); put(machine, at: 18); put(version, at: 20); put(entry, at: 24)
        put(phoff, at: 32); put(UInt16(64), at: 52); put(phentsize, at: 54)
        put(phnum ?? UInt16(headers.count), at: 56)
        for (i, h) in headers.enumerated() where phoff < UInt64(out.count) {
            let base = Int(phoff) + i * 56
            guard base + 56 <= out.count else { break }
            put(h.type, at: base); put(h.flags, at: base + 4); put(h.offset, at: base + 8)
            put(h.vaddr, at: base + 16); put(h.vaddr, at: base + 24)
            put(h.filesz, at: base + 32); put(h.memsz, at: base + 40); put(UInt64(0x1000), at: base + 48)
        }
        return out
    }

    /// Three segments laid out like User/Runtime/user.ld: R, R-X, RW.
    static func typical() -> ELFBuilder {
        var b = ELFBuilder()
        b.entry = 0x40_1000
        b.headers = [
            TestProgramHeader(flags: R, offset: 0, vaddr: 0x40_0000, filesz: 0x200, memsz: 0x200),
            TestProgramHeader(flags: R | X, offset: 0x1000, vaddr: 0x40_1000, filesz: 0x800, memsz: 0x800),
            TestProgramHeader(flags: R | W, offset: 0x2000, vaddr: 0x40_2000, filesz: 0x10, memsz: 0x8_2000),
            TestProgramHeader(type: 0x6474_e551, flags: R | W, offset: 0, vaddr: 0, filesz: 0, memsz: 0),  // GNU_STACK
        ]
        return b
    }
}

/// Parses `bytes`; returns the image or the error.
func parseELF(_ bytes: [UInt8]) -> Result<ELF64Image, ELF64Error> {
    bytes.withUnsafeBytes { raw in
        do throws(ELF64Error) { return .success(try ELF64.parse(raw)) } catch { return .failure(error) }
    }
}

/// The error parsing `builder`'s file gives, or nil if it is accepted.
func elfError(_ builder: ELFBuilder) -> ELF64Error? {
    if case .failure(let error) = parseELF(builder.bytes()) { return error }
    return nil
}

let userBinaryDirectory = userBuildDirectory.appendingPathComponent("user/bin")
let userBinariesBuilt = FileManager.default.fileExists(atPath: userBinaryDirectory.appendingPathComponent("hello").path)

@Suite struct ELF64Tests {
    typealias B = ELFBuilder

    @Test func acceptsTypicalExecutable() throws {
        let image = try parseELF(B.typical().bytes()).get()
        #expect(image.entry == 0x40_1000)
        #expect(image.segments == [
            ELF64Segment(virtualAddress: 0x40_0000, memorySize: 0x200, fileSize: 0x200, fileOffset: 0, permissions: [.read]),
            ELF64Segment(virtualAddress: 0x40_1000, memorySize: 0x800, fileSize: 0x800, fileOffset: 0x1000, permissions: [.read, .execute]),
            ELF64Segment(virtualAddress: 0x40_2000, memorySize: 0x8_2000, fileSize: 0x10, fileOffset: 0x2000, permissions: [.read, .write]),
        ])
        #expect(image.programHeaderCount == 4)
        #expect(image.programHeaderEntrySize == 56)
        #expect(image.programHeaderOffset == 64)
        #expect(image.programHeaderAddress == 0x40_0040)   // loaded by the R segment
    }

    @Test func programHeaderAddressPrefersPTPHDRAndMayBeAbsent() throws {
        var b = ELFBuilder()
        b.headers = [TestProgramHeader(type: 6, flags: 4, offset: 64, vaddr: 0x50_0040, filesz: 112, memsz: 112),
                     TestProgramHeader(flags: 5, offset: 0, vaddr: 0x40_0000, filesz: 0x100, memsz: 0x100)]
        #expect(try parseELF(b.bytes()).get().programHeaderAddress == 0x50_0040)
        var c = ELFBuilder()
        c.headers = [TestProgramHeader(flags: 5, offset: 0x1000, vaddr: 0x40_1000, filesz: 0x100, memsz: 0x100)]
        c.entry = 0x40_1000
        #expect(try parseELF(c.bytes()).get().programHeaderAddress == nil)
    }

    @Test func skipsEmptyAndNonLoadSegments() throws {
        var b = ELFBuilder()
        b.headers.append(TestProgramHeader(type: 4, flags: 4, offset: 0, vaddr: 0, filesz: 0x10, memsz: 0x10))   // PT_NOTE
        b.headers.append(TestProgramHeader(flags: 6, offset: 0, vaddr: 0x40_0000, filesz: 0, memsz: 0))          // empty LOAD
        #expect(try parseELF(b.bytes()).get().segments.count == 1)
    }

    @Test func rejectsBadIdentification() {
        var b = ELFBuilder(); b.ident[1] = 0x46
        #expect(elfError(b) == .badMagic)
        b = ELFBuilder(); b.ident[4] = 1
        #expect(elfError(b) == .notClass64)
        b = ELFBuilder(); b.ident[5] = 2
        #expect(elfError(b) == .notLittleEndian)
        b = ELFBuilder(); b.ident[6] = 0
        #expect(elfError(b) == .badVersion)
        b = ELFBuilder(); b.version = 2
        #expect(elfError(b) == .badVersion)
        #expect(parseELFError(Array(ELFBuilder().bytes().prefix(63))) == .truncatedHeader)
        #expect(parseELFError([]) == .truncatedHeader)
    }

    @Test func rejectsWrongTypeOrMachine() {
        var b = ELFBuilder(); b.type = 3          // ET_DYN (PIE)
        #expect(elfError(b) == .notExecutable(type: 3))
        b = ELFBuilder(); b.type = 1              // ET_REL
        #expect(elfError(b) == .notExecutable(type: 1))
        b = ELFBuilder(); b.machine = 3           // EM_386
        #expect(elfError(b) == .wrongMachine(3))
        b = ELFBuilder(); b.headers.append(TestProgramHeader(type: 3, flags: 4, offset: 0, vaddr: 0, filesz: 0, memsz: 0))
        #expect(elfError(b) == .needsInterpreter)
    }

    @Test func rejectsBadProgramHeaderTable() {
        var b = ELFBuilder(); b.phentsize = 64
        #expect(elfError(b) == .badProgramHeaderSize(64))
        b = ELFBuilder(); b.phoff = 0x2fe0           // table runs past the end
        #expect(elfError(b) == .programHeadersOutsideFile)
        b = ELFBuilder(); b.phoff = UInt64.max - 8   // offset arithmetic would wrap
        #expect(elfError(b) == .programHeadersOutsideFile)
        b = ELFBuilder(); b.phnum = 0
        #expect(elfError(b) == .noLoadableSegments)
        b = ELFBuilder(); b.phnum = 1000; b.fileSize = 64 + 1000 * 56
        #expect(elfError(b) == .tooManyProgramHeaders(1000))
        b = ELFBuilder(); b.headers = [TestProgramHeader(type: 4)]
        #expect(elfError(b) == .noLoadableSegments)
    }

    @Test func rejectsWritableExecutableSegment() {
        var b = B.typical(); b.headers[1].flags = B.R | B.W | B.X
        #expect(elfError(b) == .writableAndExecutable(segment: 1))
        b = B.typical(); b.headers[2].flags = B.W | B.X
        #expect(elfError(b) == .writableAndExecutable(segment: 2))
    }

    @Test func rejectsBadSizesAndFileRanges() {
        var b = B.typical(); b.headers[1].filesz = 0x900
        #expect(elfError(b) == .fileSizeExceedsMemorySize(segment: 1))
        b = B.typical(); b.headers[2].filesz = 0x1001; b.headers[2].memsz = 0x2000   // 0x2000 + 0x1001 > 0x3000
        #expect(elfError(b) == .segmentOutsideFile(segment: 2))
        b = B.typical(); b.headers[2].offset = UInt64.max - 0xfff; b.headers[2].vaddr = 0x40_2000 + (UInt64.max - 0xfff) % 4096
        #expect(elfError(b) == .segmentOutsideFile(segment: 2))
    }

    @Test func rejectsAddressesOutsideUserSpace() {
        var b = B.typical(); b.headers[2].vaddr = UInt64.max - 0xfff   // page-aligned, like offset 0x2000
        b.headers[2].filesz = 0; b.headers[2].memsz = 0x2000            // vaddr + memsz wraps
        #expect(elfError(b) == .addressOverflow(segment: 2))
        b = B.typical(); b.headers[2].vaddr = 0xffff_8000_0000_0000
        #expect(elfError(b) == .segmentInKernelSpace(segment: 2))
        b = B.typical(); b.headers[2].vaddr = ELF64.userSpaceEnd - 0x1000; b.headers[2].memsz = 0x1001
        #expect(elfError(b) == .segmentInKernelSpace(segment: 2))
        b = B.typical(); b.headers[2].vaddr = ELF64.userSpaceEnd - 0x1000; b.headers[2].memsz = 0x1000
        #expect(elfError(b) == nil, "ending exactly at the user-space end is allowed")
        b = B.typical(); b.headers[0].vaddr = 0; b.headers[0].memsz = 0x200
        #expect(elfError(b) == .segmentInNullPage(segment: 0))
    }

    @Test func rejectsMisalignedSegment() {
        var b = B.typical(); b.headers[2].vaddr = 0x40_2010
        #expect(elfError(b) == .misalignedSegment(segment: 2))
        b = B.typical(); b.headers[2].vaddr = 0x40_3010; b.headers[2].offset = 0x2010; b.headers[2].filesz = 0x10
        #expect(elfError(b) == nil, "congruent modulo the page size is fine")
    }

    @Test func rejectsSegmentsSharingAPage() {
        var b = B.typical(); b.headers[2].vaddr = 0x40_1800; b.headers[2].offset = 0x1800   // inside text's page
        #expect(elfError(b) == .segmentsOverlap(first: 1, second: 2))
        b = B.typical(); b.headers[0].memsz = 0x1001; b.headers[0].filesz = 0x200          // R spills into text's page
        #expect(elfError(b) == .segmentsOverlap(first: 0, second: 1))
        b = B.typical(); b.headers.swapAt(0, 2); b.headers[0].vaddr = 0x40_0000; b.headers[0].offset = 0x2000
        b.headers[0].memsz = 0x10
        #expect(elfError(b) == .segmentsOverlap(first: 0, second: 2), "order in the file does not matter")
    }

    @Test func rejectsEntryOutsideExecutableSegment() {
        var b = B.typical(); b.entry = 0x40_2000          // in the RW segment
        #expect(elfError(b) == .entryNotExecutable(entry: 0x40_2000))
        b = B.typical(); b.entry = 0x40_1800              // past text's memsz (0x800)
        #expect(elfError(b) == .entryNotExecutable(entry: 0x40_1800))
        b = B.typical(); b.entry = 0x40_17ff
        #expect(elfError(b) == nil)
    }

    @Test func errorsHaveDescriptions() {
        let all: [ELF64Error] = [.truncatedHeader, .badMagic, .notClass64, .notLittleEndian, .badVersion,
                                 .notExecutable(type: 3), .wrongMachine(3), .badProgramHeaderSize(1),
                                 .programHeadersOutsideFile, .tooManyProgramHeaders(99), .needsInterpreter,
                                 .noLoadableSegments, .writableAndExecutable(segment: 0),
                                 .fileSizeExceedsMemorySize(segment: 0), .segmentOutsideFile(segment: 0),
                                 .addressOverflow(segment: 0), .segmentInKernelSpace(segment: 0),
                                 .segmentInNullPage(segment: 0), .misalignedSegment(segment: 0),
                                 .segmentsOverlap(first: 0, second: 1), .entryNotExecutable(entry: 0)]
        for error in all { #expect(error.description.utf8CodeUnitCount > 10) }
    }

    @Test(.enabled(if: userBinariesBuilt, "needs make user"))
    func acceptsEveryRealUserBinary() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: userBinaryDirectory.path)
        #expect(names.contains("hello") && names.contains("hello_c"))
        for name in names {
            let bytes = [UInt8](try Data(contentsOf: userBinaryDirectory.appendingPathComponent(name)))
            let image: ELF64Image
            switch parseELF(bytes) {
            case .success(let parsed): image = parsed
            case .failure(let error):
                Issue.record("\(name): \(error.description)"); continue
            }
            #expect(image.entry == bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self) }, "\(name)")
            #expect(image.segments.contains { $0.permissions.contains(.execute) }, "\(name)")
            #expect(image.segments.allSatisfy { $0.virtualAddress >= 0x40_0000 }, "\(name)")
            #expect(image.programHeaderAddress == 0x40_0040, "\(name): headers mapped by the first segment")
        }
    }
}

/// The error parsing raw `bytes` gives, or nil.
func parseELFError(_ bytes: [UInt8]) -> ELF64Error? {
    if case .failure(let error) = parseELF(bytes) { return error }
    return nil
}
