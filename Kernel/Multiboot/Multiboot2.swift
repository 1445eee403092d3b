// Reading the multiboot2 boot information (Multiboot2 spec, section 3.6).
//
// GRUB leaves the information in physical memory and passes its address in
// EBX. The caller maps it and hands over the bytes; nothing here touches
// hardware, so the host tests feed it synthesized blocks.
//
// Layout: u32 total_size, u32 reserved, then tags, each 8-byte aligned:
// u32 type, u32 size, payload. Tag type 0 ends the list.

/// What a region of the physical memory map holds (spec 3.6.8).
public enum MemoryRegionKind: UInt32 {
    case usable = 1
    case reserved = 2
    case acpiReclaimable = 3
    case acpiNVS = 4
    case defective = 5

    public var name: StaticString {
        switch self {
        case .usable: return "usable"
        case .reserved: return "reserved"
        case .acpiReclaimable: return "ACPI reclaimable"
        case .acpiNVS: return "ACPI NVS"
        case .defective: return "defective"
        }
    }
}

/// One entry of the memory map: [start, end).
public struct MemoryRegion: Equatable {
    public var start: UInt64
    public var end: UInt64
    public var kind: MemoryRegionKind
    public var size: UInt64 { end - start }

    public init(start: UInt64, end: UInt64, kind: MemoryRegionKind) {
        self.start = start
        self.end = end
        self.kind = kind
    }
}

/// A file GRUB loaded next to the kernel (`module2` in grub.cfg).
public struct BootModule {
    public var start: UInt64
    public var end: UInt64
    public var name: String
}

public enum Multiboot2Error: Error, Equatable {
    case badMagic(UInt32)
    case truncated
    case malformedTag(type: UInt32, offset: Int)
}

public struct Multiboot2Info {
    /// EAX at entry when a multiboot2 loader started the kernel.
    public static let bootMagic: UInt32 = 0x36D7_6289

    enum TagType: UInt32 {
        case end = 0
        case commandLine = 1
        case bootLoaderName = 2
        case module = 3
        case memoryMap = 6
    }

    public private(set) var totalSize: Int = 0
    public private(set) var commandLine: String = ""
    public private(set) var bootLoaderName: String = ""
    public private(set) var memoryMap: [MemoryRegion] = []
    public private(set) var modules: [BootModule] = []

    /// Parses the information block at `base`. `magic` is the value EAX held
    /// at entry. Reads at most `limit` bytes, so a corrupt size cannot walk
    /// off the mapped window.
    public init(magic: UInt32, base: UnsafeRawPointer, limit: Int) throws(Multiboot2Error) {
        guard magic == Multiboot2Info.bootMagic else { throw .badMagic(magic) }
        guard limit >= 8 else { throw .truncated }
        let total = Int(base.loadUnaligned(as: UInt32.self))
        guard total >= 16, total <= limit else { throw .truncated }
        totalSize = total

        var offset = 8
        while offset + 8 <= total {
            let type = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            let size = Int(base.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            guard size >= 8, offset + size <= total else { throw .malformedTag(type: type, offset: offset) }
            let payload = base + offset + 8
            let payloadSize = size - 8

            switch TagType(rawValue: type) {
            case .end:
                return
            case .commandLine:
                commandLine = Multiboot2Info.string(at: payload, maxLength: payloadSize)
            case .bootLoaderName:
                bootLoaderName = Multiboot2Info.string(at: payload, maxLength: payloadSize)
            case .module:
                guard payloadSize >= 8 else { throw .malformedTag(type: type, offset: offset) }
                let start = UInt64(payload.loadUnaligned(as: UInt32.self))
                let end = UInt64(payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                let name = Multiboot2Info.string(at: payload + 8, maxLength: payloadSize - 8)
                modules.append(BootModule(start: start, end: end, name: name))
            case .memoryMap:
                guard payloadSize >= 8 else { throw .malformedTag(type: type, offset: offset) }
                let entrySize = Int(payload.loadUnaligned(as: UInt32.self))
                guard entrySize >= 24 else { throw .malformedTag(type: type, offset: offset) }
                var entry = 8
                while entry + entrySize <= payloadSize {
                    let start = payload.loadUnaligned(fromByteOffset: entry, as: UInt64.self)
                    let length = payload.loadUnaligned(fromByteOffset: entry + 8, as: UInt64.self)
                    let rawKind = payload.loadUnaligned(fromByteOffset: entry + 16, as: UInt32.self)
                    // Unknown types must be treated as reserved (spec 3.6.8).
                    let kind = MemoryRegionKind(rawValue: rawKind) ?? .reserved
                    if length > 0 && start &+ length > start {
                        memoryMap.append(MemoryRegion(start: start, end: start + length, kind: kind))
                    }
                    entry += entrySize
                }
            case nil:
                break  // Tags we do not use (framebuffer, ACPI, ELF sections, ...).
            }
            offset += (size + 7) & ~7
        }
        throw .truncated  // No end tag.
    }

    /// Bytes of usable RAM in the memory map.
    public var usableBytes: UInt64 {
        var total: UInt64 = 0
        for region in memoryMap where region.kind == .usable { total += region.size }
        return total
    }

    static func string(at pointer: UnsafeRawPointer, maxLength: Int) -> String {
        var bytes: [UInt8] = []
        var i = 0
        while i < maxLength {
            let byte = pointer.load(fromByteOffset: i, as: UInt8.self)
            if byte == 0 { break }
            bytes.append(byte)
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
