// Validating a user executable: ELF64 (System V ABI, x86-64 supplement).
//
// Design: the loader trusts nothing in the file. `ELF64.parse` checks the
// header (magic, class, byte order, versions, ET_EXEC, EM_X86_64, program
// header size and placement) and then every PT_LOAD segment against the
// rules the kernel's address space depends on: W^X, no two segments sharing
// a page, file bytes inside the file, filesz <= memsz, no arithmetic
// overflow, nothing at page 0 or in the kernel half (user space ends at
// 0x7f80_0000_0000), p_vaddr congruent to p_offset modulo the page size, and
// an entry point inside an executable segment. Only static non-PIE
// executables are accepted (no PT_INTERP, no ET_DYN). The result is a plain
// list of segments; mapping them is the caller's job. Pure Swift, no
// hardware, so the host tests feed it hand-built headers and real binaries.

/// Why an executable was refused. Indices count program headers from 0.
public enum ELF64Error: Error, Equatable {
    case truncatedHeader
    case badMagic
    case notClass64
    case notLittleEndian
    case badVersion
    case notExecutable(type: UInt16)
    case wrongMachine(UInt16)
    case badProgramHeaderSize(UInt16)
    case programHeadersOutsideFile
    case tooManyProgramHeaders(Int)
    case needsInterpreter
    case noLoadableSegments
    case writableAndExecutable(segment: Int)
    case fileSizeExceedsMemorySize(segment: Int)
    case segmentOutsideFile(segment: Int)
    case addressOverflow(segment: Int)
    case segmentInKernelSpace(segment: Int)
    case segmentInNullPage(segment: Int)
    case misalignedSegment(segment: Int)
    case segmentsOverlap(first: Int, second: Int)
    case entryNotExecutable(entry: UInt64)

    /// A readable explanation.
    public var description: StaticString {
        switch self {
        case .truncatedHeader: return "file too small for an ELF64 header"
        case .badMagic: return "not an ELF file (bad magic)"
        case .notClass64: return "not a 64-bit ELF file"
        case .notLittleEndian: return "not little-endian"
        case .badVersion: return "unknown ELF version"
        case .notExecutable: return "not a static executable (ET_EXEC); PIE and shared objects are not supported"
        case .wrongMachine: return "not an x86-64 executable"
        case .badProgramHeaderSize: return "program header entry size is not 56"
        case .programHeadersOutsideFile: return "program headers lie outside the file"
        case .tooManyProgramHeaders: return "too many program headers"
        case .needsInterpreter: return "dynamically linked (PT_INTERP); only static executables run"
        case .noLoadableSegments: return "no PT_LOAD segment"
        case .writableAndExecutable: return "segment is both writable and executable (W^X)"
        case .fileSizeExceedsMemorySize: return "segment file size exceeds its memory size"
        case .segmentOutsideFile: return "segment file range lies outside the file"
        case .addressOverflow: return "segment address range overflows"
        case .segmentInKernelSpace: return "segment reaches the kernel half of the address space"
        case .segmentInNullPage: return "segment maps page 0"
        case .misalignedSegment: return "segment vaddr and file offset differ modulo the page size"
        case .segmentsOverlap: return "two segments share a page"
        case .entryNotExecutable: return "entry point is not inside an executable segment"
        }
    }
}

/// Access rights of a segment (from p_flags).
public struct ELF64Permissions: OptionSet, Equatable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = ELF64Permissions(rawValue: 1 << 0)
    public static let write = ELF64Permissions(rawValue: 1 << 1)
    public static let execute = ELF64Permissions(rawValue: 1 << 2)
}

/// One PT_LOAD segment: map [virtualAddress, +memorySize) with
/// `permissions`; its first `fileSize` bytes come from the file at
/// `fileOffset`, the rest are zero.
public struct ELF64Segment: Equatable, Sendable {
    public var virtualAddress: UInt64
    public var memorySize: UInt64
    public var fileSize: UInt64
    public var fileOffset: UInt64
    public var permissions: ELF64Permissions

    public init(virtualAddress: UInt64, memorySize: UInt64, fileSize: UInt64, fileOffset: UInt64,
                permissions: ELF64Permissions) {
        self.virtualAddress = virtualAddress
        self.memorySize = memorySize
        self.fileSize = fileSize
        self.fileOffset = fileOffset
        self.permissions = permissions
    }

    /// First address after the segment.
    public var end: UInt64 { virtualAddress + memorySize }
    /// The page-aligned range the segment occupies: [pageStart, pageEnd).
    public var pageStart: UInt64 { virtualAddress & ~(ELF64.pageSize - 1) }
    public var pageEnd: UInt64 { (end + ELF64.pageSize - 1) & ~(ELF64.pageSize - 1) }
}

/// A validated executable.
public struct ELF64Image: Equatable, Sendable {
    public var entry: UInt64
    /// PT_LOAD segments with memsz > 0, in file order.
    public var segments: [ELF64Segment]
    /// e_phoff, e_phentsize, e_phnum (for the auxiliary vector).
    public var programHeaderOffset: UInt64
    public var programHeaderEntrySize: UInt16
    public var programHeaderCount: UInt16
    /// Where the program headers are visible in memory once the segments
    /// are mapped (AT_PHDR): PT_PHDR's address, else the address of the
    /// loaded file bytes holding them; nil when no segment maps them.
    public var programHeaderAddress: UInt64?
}

/// The ELF64 parser (a namespace).
public enum ELF64 {
    public static let pageSize: UInt64 = 4096
    /// First address of the kernel half: user segments must end at or below it.
    public static var userSpaceEnd: UInt64 { UserMemoryLayout.userEnd.raw }
    /// More program headers than this is not a program we built.
    public static let maximumProgramHeaders = 64

    static let headerSize = 64
    static let programHeaderSize: UInt16 = 56
    static let magic: (UInt8, UInt8, UInt8, UInt8) = (0x7f, UInt8(ascii: "E"), UInt8(ascii: "L"), UInt8(ascii: "F"))
    static let classELF64: UInt8 = 2
    static let dataLittleEndian: UInt8 = 1
    static let versionCurrent: UInt8 = 1
    static let typeExecutable: UInt16 = 2
    static let machineX86_64: UInt16 = 62
    static let ptLoad: UInt32 = 1
    static let ptInterp: UInt32 = 3
    static let ptPhdr: UInt32 = 6
    static let pfExecute: UInt32 = 1, pfWrite: UInt32 = 2, pfRead: UInt32 = 4

    /// Header field offsets (Elf64_Ehdr / Elf64_Phdr).
    enum Offset {
        static let identClass = 4, identData = 5, identVersion = 6
        static let type = 16, machine = 18, version = 20, entry = 24, phoff = 32
        static let phentsize = 54, phnum = 56
        static let pType = 0, pFlags = 4, pOffset = 8, pVaddr = 16, pFilesz = 32, pMemsz = 40
    }

    /// Parses and validates the executable in `file`. Contract: returns only
    /// if every rule in the file comment holds; the segments it returns can
    /// be mapped as-is without further checks.
    public static func parse(_ file: UnsafeRawBufferPointer) throws(ELF64Error) -> ELF64Image {
        let header = try parseHeader(file)
        var segments: [ELF64Segment] = []
        var segmentIndices: [Int] = []
        var programHeaderAddress: UInt64? = nil
        for index in 0..<Int(header.phnum) {
            let base = Int(header.phoff) + index * Int(programHeaderSize)
            let type = load(file, base + Offset.pType, as: UInt32.self)
            if type == ptInterp { throw .needsInterpreter }
            if type == ptPhdr { programHeaderAddress = load(file, base + Offset.pVaddr, as: UInt64.self) }
            guard type == ptLoad else { continue }
            guard let segment = try validatedSegment(file, at: base, index: index) else { continue }
            segments.append(segment)
            segmentIndices.append(index)
        }
        guard !segments.isEmpty else { throw .noLoadableSegments }
        try checkOverlaps(segments, indices: segmentIndices)
        guard segments.contains(where: { $0.permissions.contains(.execute) && header.entry >= $0.virtualAddress && header.entry < $0.end }) else {
            throw .entryNotExecutable(entry: header.entry)
        }
        if programHeaderAddress == nil {
            programHeaderAddress = mappedAddress(ofFileRange: header.phoff, length: UInt64(header.phnum) * UInt64(programHeaderSize), in: segments)
        }
        return ELF64Image(entry: header.entry, segments: segments, programHeaderOffset: header.phoff,
                          programHeaderEntrySize: programHeaderSize, programHeaderCount: header.phnum,
                          programHeaderAddress: programHeaderAddress)
    }

    /// Checks the ELF header; returns entry, phoff, phnum.
    static func parseHeader(_ file: UnsafeRawBufferPointer) throws(ELF64Error) -> (entry: UInt64, phoff: UInt64, phnum: UInt16) {
        guard file.count >= headerSize else { throw .truncatedHeader }
        guard file[0] == magic.0, file[1] == magic.1, file[2] == magic.2, file[3] == magic.3 else { throw .badMagic }
        guard file[Offset.identClass] == classELF64 else { throw .notClass64 }
        guard file[Offset.identData] == dataLittleEndian else { throw .notLittleEndian }
        guard file[Offset.identVersion] == versionCurrent,
              load(file, Offset.version, as: UInt32.self) == UInt32(versionCurrent) else { throw .badVersion }
        let type = load(file, Offset.type, as: UInt16.self)
        guard type == typeExecutable else { throw .notExecutable(type: type) }
        let machine = load(file, Offset.machine, as: UInt16.self)
        guard machine == machineX86_64 else { throw .wrongMachine(machine) }
        let phentsize = load(file, Offset.phentsize, as: UInt16.self)
        let phnum = load(file, Offset.phnum, as: UInt16.self)
        guard phnum > 0 else { throw .noLoadableSegments }
        guard phentsize == programHeaderSize else { throw .badProgramHeaderSize(phentsize) }
        guard Int(phnum) <= maximumProgramHeaders else { throw .tooManyProgramHeaders(Int(phnum)) }
        let phoff = load(file, Offset.phoff, as: UInt64.self)
        let tableSize = UInt64(phnum) * UInt64(phentsize)
        guard phoff <= UInt64(file.count), tableSize <= UInt64(file.count) - phoff else {
            throw .programHeadersOutsideFile
        }
        return (load(file, Offset.entry, as: UInt64.self), phoff, phnum)
    }

    /// Checks the PT_LOAD header at byte `base`; nil for an empty (memsz 0)
    /// segment, which maps nothing.
    static func validatedSegment(_ file: UnsafeRawBufferPointer, at base: Int, index: Int) throws(ELF64Error) -> ELF64Segment? {
        let flags = load(file, base + Offset.pFlags, as: UInt32.self)
        let offset = load(file, base + Offset.pOffset, as: UInt64.self)
        let vaddr = load(file, base + Offset.pVaddr, as: UInt64.self)
        let filesz = load(file, base + Offset.pFilesz, as: UInt64.self)
        let memsz = load(file, base + Offset.pMemsz, as: UInt64.self)

        guard flags & pfWrite == 0 || flags & pfExecute == 0 else { throw .writableAndExecutable(segment: index) }
        guard filesz <= memsz else { throw .fileSizeExceedsMemorySize(segment: index) }
        guard offset <= UInt64(file.count), filesz <= UInt64(file.count) - offset else {
            throw .segmentOutsideFile(segment: index)
        }
        if memsz == 0 { return nil }
        let (end, overflow) = vaddr.addingReportingOverflow(memsz)
        guard !overflow, end <= UInt64.max - pageSize else { throw .addressOverflow(segment: index) }
        guard end <= userSpaceEnd else { throw .segmentInKernelSpace(segment: index) }
        guard vaddr >= pageSize else { throw .segmentInNullPage(segment: index) }
        guard vaddr % pageSize == offset % pageSize else { throw .misalignedSegment(segment: index) }

        var permissions: ELF64Permissions = []
        if flags & pfRead != 0 { permissions.insert(.read) }
        if flags & pfWrite != 0 { permissions.insert(.write) }
        if flags & pfExecute != 0 { permissions.insert(.execute) }
        return ELF64Segment(virtualAddress: vaddr, memorySize: memsz, fileSize: filesz, fileOffset: offset,
                            permissions: permissions)
    }

    /// Throws .segmentsOverlap when two segments touch a common page.
    static func checkOverlaps(_ segments: [ELF64Segment], indices: [Int]) throws(ELF64Error) {
        for i in 0..<segments.count {
            for j in (i + 1)..<segments.count
            where segments[i].pageStart < segments[j].pageEnd && segments[j].pageStart < segments[i].pageEnd {
                throw .segmentsOverlap(first: indices[i], second: indices[j])
            }
        }
    }

    /// The virtual address at which file bytes [offset, offset+length) are
    /// visible, if one segment loads all of them from the file.
    static func mappedAddress(ofFileRange offset: UInt64, length: UInt64, in segments: [ELF64Segment]) -> UInt64? {
        for segment in segments
        where offset >= segment.fileOffset && offset + length <= segment.fileOffset + segment.fileSize {
            return segment.virtualAddress + (offset - segment.fileOffset)
        }
        return nil
    }

    /// Little-endian integer at `offset` (bounds already checked by callers).
    static func load<T: FixedWidthInteger>(_ file: UnsafeRawBufferPointer, _ offset: Int, as: T.Type) -> T {
        T(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
