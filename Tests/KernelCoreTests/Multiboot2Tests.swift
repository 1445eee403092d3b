import Testing
@testable import KernelCore

/// Builds multiboot2 information blocks the way GRUB lays them out.
struct Multiboot2Builder {
    var bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0]

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func pad() { while bytes.count % 8 != 0 { bytes.append(0) } }

    mutating func tag(_ type: UInt32, _ payload: [UInt8]) {
        u32(type); u32(UInt32(8 + payload.count)); bytes += payload; pad()
    }
    mutating func string(_ type: UInt32, _ text: String) { tag(type, Array(text.utf8) + [0]) }
    mutating func memoryMap(_ regions: [(UInt64, UInt64, UInt32)]) {
        var payload = Multiboot2Builder(bytes: [])
        payload.u32(24); payload.u32(0)
        for (start, length, kind) in regions { payload.u64(start); payload.u64(length); payload.u32(kind); payload.u32(0) }
        tag(6, payload.bytes)
    }
    mutating func finish() -> [UInt8] {
        u32(0); u32(8)
        let total = UInt32(bytes.count)
        withUnsafeBytes(of: total.littleEndian) { for i in 0..<4 { bytes[i] = $0[i] } }
        return bytes
    }
}

func parse(_ bytes: [UInt8], magic: UInt32 = Multiboot2Info.bootMagic) throws(Multiboot2Error) -> Multiboot2Info {
    var result: Result<Multiboot2Info, Multiboot2Error>!
    bytes.withUnsafeBytes { raw in
        result = Result { () throws(Multiboot2Error) in try Multiboot2Info(magic: magic, base: raw.baseAddress!, limit: raw.count) }
    }
    return try result.get()
}

@Suite struct Multiboot2Tests {
    @Test func parsesCommandLineLoaderAndMemoryMap() throws {
        var b = Multiboot2Builder()
        b.string(1, "test=all quiet")
        b.string(2, "GRUB 2.06")
        b.memoryMap([(0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0x100000, 0xFEE0000, 1), (0xFFFC0000, 0x40000, 2)])
        let info = try parse(b.finish())
        #expect(info.commandLine == "test=all quiet")
        #expect(info.bootLoaderName == "GRUB 2.06")
        #expect(info.memoryMap.count == 4)
        #expect(info.memoryMap[0] == MemoryRegion(start: 0, end: 0x9FC00, kind: .usable))
        #expect(info.memoryMap[3].kind == .reserved)
        #expect(info.usableBytes == 0x9FC00 + 0xFEE0000)
    }

    @Test func parsesModules() throws {
        var b = Multiboot2Builder()
        var payload = Multiboot2Builder(bytes: [])
        payload.u32(0x200000); payload.u32(0x201000)
        payload.bytes += Array("initrd".utf8) + [0]
        b.tag(3, payload.bytes)
        let info = try parse(b.finish())
        #expect(info.modules.count == 1)
        #expect(info.modules[0].start == 0x200000 && info.modules[0].end == 0x201000)
        #expect(info.modules[0].name == "initrd")
    }

    @Test func unknownMemoryTypesCountAsReservedAndEmptyRegionsAreDropped() throws {
        var b = Multiboot2Builder()
        b.memoryMap([(0x1000, 0x1000, 99), (0x5000, 0, 1)])
        let info = try parse(b.finish())
        #expect(info.memoryMap == [MemoryRegion(start: 0x1000, end: 0x2000, kind: .reserved)])
    }

    @Test func rejectsWrongMagic() {
        var b = Multiboot2Builder()
        let bytes = b.finish()
        #expect(throws: Multiboot2Error.badMagic(0x2BADB002)) { try parse(bytes, magic: 0x2BADB002) }
    }

    @Test func rejectsTagRunningPastTheEnd() {
        var b = Multiboot2Builder()
        b.string(1, "hello")
        var bytes = b.finish()
        bytes[12] = 0xFF  // the command-line tag's size now overruns the block
        #expect(throws: Multiboot2Error.malformedTag(type: 1, offset: 8)) { try parse(bytes) }
    }

    @Test func rejectsMissingEndTag() {
        var b = Multiboot2Builder()
        b.string(1, "x")
        var bytes = b.bytes
        let total = UInt32(bytes.count)
        withUnsafeBytes(of: total) { for i in 0..<4 { bytes[i] = $0[i] } }
        #expect(throws: Multiboot2Error.truncated) { try parse(bytes) }
    }

    @Test func rejectsTotalSizeBeyondTheLimit() {
        var b = Multiboot2Builder()
        var bytes = b.finish()
        bytes[1] = 0x10  // claims 4 KiB
        #expect(throws: Multiboot2Error.truncated) { try parse(bytes) }
    }
}
