// Reading the boot archive: POSIX ustar (IEEE Std 1003.1, "pax" chapter,
// ustar interchange format), as `tar --format=ustar` writes it.
//
// Design: the archive is a run of 512-byte blocks. Each member is one header
// block (name, octal size, checksum, type, "ustar" magic, name prefix)
// followed by its data rounded up to whole blocks; a zero block ends the
// archive. `UstarArchive` walks and validates every header once, up front,
// and keeps only offsets, so a lookup never re-parses and a corrupt or
// truncated archive is refused before anything is executed from it. Nothing
// is copied: file contents are slices of the caller's buffer, which must
// outlive the archive value. Pure Swift, no hardware: the kernel hands over
// the GRUB module's bytes, the host tests hand over `tar` output.

/// Why an archive was refused or a lookup failed.
public enum UstarError: Error, Equatable {
    /// The buffer ends inside the header block starting at `offset`.
    case truncatedHeader(offset: Int)
    /// The member whose header is at `offset` claims more data than remains.
    case truncatedData(offset: Int)
    /// No zero block marks the end of the archive.
    case missingEndOfArchive
    /// The header at `offset` does not carry the "ustar" magic.
    case badMagic(offset: Int)
    /// The header at `offset` fails its checksum.
    case badChecksum(offset: Int)
    /// A numeric field of the header at `offset` is not valid octal.
    case badNumber(offset: Int)
    /// No member has the requested path.
    case notFound
    /// The path names a member that is not a regular file.
    case notARegularFile

    /// A readable explanation.
    public var description: StaticString {
        switch self {
        case .truncatedHeader: return "archive truncated inside a header block"
        case .truncatedData: return "archive truncated inside a file's data"
        case .missingEndOfArchive: return "archive has no end-of-archive (zero) block"
        case .badMagic: return "header lacks the ustar magic"
        case .badChecksum: return "header checksum mismatch"
        case .badNumber: return "header number field is not octal"
        case .notFound: return "no such file in the archive"
        case .notARegularFile: return "archive member is not a regular file"
        }
    }
}

/// What a member is (the header's typeflag).
public enum UstarEntryKind: Equatable, Sendable {
    case regularFile
    case directory
    case symbolicLink
    case hardLink
    /// Anything else (devices, FIFOs, vendor extensions), with its typeflag.
    case other(UInt8)
}

/// One member of the archive.
public struct UstarEntry: Sendable {
    /// Full path: prefix + "/" + name, exactly as stored.
    public let path: String
    public let kind: UstarEntryKind
    /// Bytes of data.
    public let size: Int
    /// Offset of the header block in the archive.
    public let headerOffset: Int
    /// Offset of the first data byte in the archive.
    public var dataOffset: Int { headerOffset + UstarArchive.blockSize }
}

/// A validated view of a ustar archive in memory.
public struct UstarArchive {
    public static let blockSize = 512

    /// Header field offsets and lengths (POSIX ustar header).
    enum Field {
        static let name = (offset: 0, length: 100)
        static let size = (offset: 124, length: 12)
        static let checksum = (offset: 148, length: 8)
        static let typeflag = 156
        static let magic = (offset: 257, length: 5)       // "ustar", then NUL or space
        static let prefix = (offset: 345, length: 155)
    }
    static let magic: StaticString = "ustar"
    static let asciiSpace: UInt8 = 0x20

    public let bytes: UnsafeRawBufferPointer
    public private(set) var entries: [UstarEntry] = []

    /// Validates every header of the archive in `bytes`. Contract: throws
    /// unless every member's header is well formed (magic, checksum, octal
    /// size), every member's data lies inside the buffer and a zero block
    /// ends the member list. `bytes` must stay valid while the value is used.
    public init(_ bytes: UnsafeRawBufferPointer) throws(UstarError) {
        self.bytes = bytes
        var offset = 0
        while true {
            guard bytes.count - offset >= Self.blockSize else {
                if offset == bytes.count { throw .missingEndOfArchive }
                throw .truncatedHeader(offset: offset)
            }
            let header = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Self.blockSize)])
            if header.allSatisfy({ $0 == 0 }) { break }
            let entry = try Self.parseHeader(header, at: offset)
            // Data is padded to whole blocks; data and padding must be present.
            let dataBlocks = entry.kind.hasData ? (entry.size + Self.blockSize - 1) / Self.blockSize : 0
            guard dataBlocks <= (bytes.count - entry.dataOffset) / Self.blockSize else {
                throw .truncatedData(offset: offset)
            }
            entries.append(entry)
            offset = entry.dataOffset + dataBlocks * Self.blockSize
        }
    }

    /// The member called `path` ("bin/hello", "/bin/hello" and "./bin/hello"
    /// all name the same member), or nil. When a path occurs twice the later
    /// member wins, as when tar extracts.
    public func entry(named path: String) -> UstarEntry? {
        let wanted = Self.normalized(path.utf8)
        var found: UstarEntry? = nil
        for entry in entries where Self.normalized(entry.path.utf8).elementsEqual(wanted) {
            found = entry
        }
        return found
    }

    /// The data bytes of `entry` (a slice of the archive buffer).
    public func contents(of entry: UstarEntry) -> UnsafeRawBufferPointer {
        let start = entry.kind.hasData ? entry.dataOffset : entry.headerOffset
        let count = entry.kind.hasData ? entry.size : 0
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)])
    }

    /// The contents of the regular file at `path`. Throws .notFound or
    /// .notARegularFile.
    public func file(at path: String) throws(UstarError) -> UnsafeRawBufferPointer {
        guard let entry = entry(named: path) else { throw .notFound }
        guard entry.kind == .regularFile else { throw .notARegularFile }
        return contents(of: entry)
    }

    /// Parses and checks the header block `header` found at `offset`.
    static func parseHeader(_ header: UnsafeRawBufferPointer, at offset: Int) throws(UstarError) -> UstarEntry {
        for i in 0..<Field.magic.length where header[Field.magic.offset + i] != magic.utf8Start[i] {
            throw .badMagic(offset: offset)
        }
        guard let stored = octal(header, Field.checksum) else { throw .badNumber(offset: offset) }
        guard stored == checksum(of: header) else { throw .badChecksum(offset: offset) }
        guard let size = octal(header, Field.size) else { throw .badNumber(offset: offset) }

        var path: [UInt8] = []
        let prefix = field(header, Field.prefix)
        if !prefix.isEmpty { path = prefix + [UInt8(ascii: "/")] }
        path += field(header, Field.name)
        return UstarEntry(path: String(decoding: path, as: UTF8.self), kind: kind(header[Field.typeflag]),
                          size: size, headerOffset: offset)
    }

    /// Sum of the header's bytes with the checksum field counted as spaces.
    static func checksum(of header: UnsafeRawBufferPointer) -> Int {
        var sum = 0
        for (index, byte) in header.enumerated() {
            let inChecksum = index >= Field.checksum.offset && index < Field.checksum.offset + Field.checksum.length
            sum += Int(inChecksum ? asciiSpace : byte)
        }
        return sum
    }

    /// The octal number in a NUL- or space-terminated field; nil if a
    /// character is not an octal digit (base-256 sizes are not supported).
    static func octal(_ header: UnsafeRawBufferPointer, _ field: (offset: Int, length: Int)) -> Int? {
        var value = 0
        var sawDigit = false
        for i in field.offset..<(field.offset + field.length) {
            let byte = header[i]
            if byte == 0 || (byte == asciiSpace && sawDigit) { break }
            if byte == asciiSpace { continue }  // leading spaces
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
            guard !overflow else { return nil }
            value = shifted + Int(byte - UInt8(ascii: "0"))
            sawDigit = true
        }
        return sawDigit ? value : nil
    }

    /// The bytes of a text field up to its first NUL.
    static func field(_ header: UnsafeRawBufferPointer, _ field: (offset: Int, length: Int)) -> [UInt8] {
        var result: [UInt8] = []
        for i in field.offset..<(field.offset + field.length) {
            if header[i] == 0 { break }
            result.append(header[i])
        }
        return result
    }

    /// The entry kind for a typeflag byte.
    static func kind(_ typeflag: UInt8) -> UstarEntryKind {
        switch typeflag {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): return .regularFile
        case UInt8(ascii: "1"): return .hardLink
        case UInt8(ascii: "2"): return .symbolicLink
        case UInt8(ascii: "5"): return .directory
        default: return .other(typeflag)
        }
    }

    /// `path` without leading "/" and "./" components and without a
    /// trailing "/", so the spellings of one path compare equal.
    static func normalized(_ path: String.UTF8View) -> ArraySlice<UInt8> {
        var bytes = ArraySlice(path)
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        while true {
            if bytes.first == slash {
                bytes = bytes.dropFirst()
            } else if bytes.count >= 2, bytes.first == dot, bytes[bytes.startIndex + 1] == slash {
                bytes = bytes.dropFirst(2)
            } else {
                break
            }
        }
        while bytes.last == slash { bytes = bytes.dropLast() }
        return bytes
    }
}

extension UstarEntryKind {
    /// True when data blocks follow the header (files and unknown types);
    /// links, directories, devices and FIFOs carry none.
    var hasData: Bool {
        switch self {
        case .regularFile: return true
        case .directory, .symbolicLink, .hardLink: return false
        case .other(let flag): return !(flag >= UInt8(ascii: "3") && flag <= UInt8(ascii: "6"))
        }
    }
}
