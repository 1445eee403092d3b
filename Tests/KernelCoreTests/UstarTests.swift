// Host tests of the ustar reader (Kernel/Loader/Ustar.swift): archives are
// built here header by header, so every corruption is deliberate, and the
// real boot archive is read too when `make initrd` has produced it.
import Foundation
import Testing
@testable import KernelCore

/// Writes ustar archives the way `tar --format=ustar` does.
struct UstarBuilder {
    static let block = 512
    var bytes: [UInt8] = []

    /// Appends a member: header (name split into prefix/name when given),
    /// then the data padded to whole blocks.
    mutating func add(_ name: String, _ data: [UInt8], type: UInt8 = UInt8(ascii: "0"), prefix: String = "",
                      sizeField: String? = nil, magic: String = "ustar") {
        var header = [UInt8](repeating: 0, count: Self.block)
        func put(_ text: String, at offset: Int) { for (i, b) in text.utf8.enumerated() { header[offset + i] = b } }
        put(name, at: 0)
        put("0000644", at: 100); put("0000000", at: 108); put("0000000", at: 116)
        put(sizeField ?? String(leftPad(String(data.count, radix: 8), 11)), at: 124)
        put("00000000000", at: 136)
        header[156] = type
        put(magic, at: 257); put("00", at: 263)
        put(prefix, at: 345)
        var sum = 0
        for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        put(leftPad(String(sum, radix: 8), 6), at: 148)
        header[154] = 0; header[155] = 0x20
        bytes += header
        bytes += data
        bytes += [UInt8](repeating: 0, count: (Self.block - data.count % Self.block) % Self.block)
    }

    /// The finished archive: two zero blocks end it.
    func finish() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 2 * Self.block) }

    func leftPad(_ s: String, _ width: Int) -> String { String(repeating: "0", count: max(0, width - s.count)) + s }
}

/// Opens `bytes` as an archive and hands it to `body`.
func withArchive<R>(_ bytes: [UInt8], _ body: (UstarArchive) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try UstarArchive(raw)) }
}

/// The error UstarArchive.init throws for `bytes`, or nil.
func ustarError(_ bytes: [UInt8]) -> UstarError? {
    bytes.withUnsafeBytes { raw in
        do throws(UstarError) { _ = try UstarArchive(raw); return nil } catch { return error }
    }
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// The build directory of the user programs: $BUILD (as for make) or build/.
let userBuildDirectory: URL = {
    let build = ProcessInfo.processInfo.environment["BUILD"] ?? "build"
    return build.hasPrefix("/") ? URL(fileURLWithPath: build) : repositoryRoot.appendingPathComponent(build)
}()
let initrdPath = userBuildDirectory.appendingPathComponent("initrd.tar").path

@Suite struct UstarTests {
    let hello = Array("hello, world\n".utf8)
    let big = (0..<1300).map { (i: Int) in UInt8(truncatingIfNeeded: i &* 7) }

    func sample() -> [UInt8] {
        var b = UstarBuilder()
        b.add("bin/", [], type: UInt8(ascii: "5"))
        b.add("bin/hello", hello)
        b.add("bin/big", big)
        b.add("deep/file", Array("x".utf8), prefix: "some/long/prefix")
        return b.finish()
    }

    @Test func listsEntriesInOrderWithKindsAndSizes() throws {
        try withArchive(sample()) { archive in
            #expect(archive.entries.map(\.path) == ["bin/", "bin/hello", "bin/big", "some/long/prefix/deep/file"])
            #expect(archive.entries.map(\.kind) == [.directory, .regularFile, .regularFile, .regularFile])
            #expect(archive.entries.map(\.size) == [0, hello.count, big.count, 1])
            #expect(archive.entries[2].dataOffset == 3 * 512 + 512)  // after bin/, hello's header+1 block, its header
        }
    }

    @Test func looksUpAllSpellingsOfAPath() throws {
        try withArchive(sample()) { archive in
            for path in ["bin/hello", "/bin/hello", "./bin/hello", "//bin/hello", "././bin/hello"] {
                let data = try #require(try? archive.file(at: path), "lookup of \(path)")
                #expect(Array(data) == hello)
            }
            let bigData = try archive.file(at: "/bin/big")
            #expect(Array(bigData) == big)
            let deep = try archive.file(at: "some/long/prefix/deep/file")
            #expect(Array(deep) == Array("x".utf8))
        }
    }

    @Test func missingFilesAndDirectoriesAreErrors() throws {
        try withArchive(sample()) { archive in
            #expect(throws: UstarError.notFound) { try archive.file(at: "/bin/nope") }
            #expect(throws: UstarError.notFound) { try archive.file(at: "bin/hell") }
            #expect(throws: UstarError.notARegularFile) { try archive.file(at: "/bin") }
            #expect(archive.entry(named: "bin/")?.kind == .directory)
        }
    }

    @Test func laterDuplicateWins() throws {
        var b = UstarBuilder()
        b.add("a", Array("old".utf8))
        b.add("a", Array("new".utf8))
        try withArchive(b.finish()) { archive in
            let data = try archive.file(at: "a")
            #expect(Array(data) == Array("new".utf8))
        }
    }

    @Test func emptyArchiveHasNoEntries() throws {
        try withArchive(UstarBuilder().finish()) { #expect($0.entries.isEmpty) }
    }

    @Test func rejectsBadChecksum() {
        var bytes = sample()
        bytes[512 + 10] ^= 0x01          // a name byte of the second header
        #expect(ustarError(bytes) == .badChecksum(offset: 512))
    }

    @Test func rejectsMissingMagic() {
        var b = UstarBuilder()
        b.add("a", [1, 2, 3], magic: "xxxxx")
        #expect(ustarError(b.finish()) == .badMagic(offset: 0))
    }

    @Test func rejectsNonOctalSize() {
        var b = UstarBuilder()
        b.add("a", [1, 2, 3], sizeField: "0000000009x")
        #expect(ustarError(b.finish()) == .badNumber(offset: 0))
    }

    @Test func rejectsTruncatedArchives() {
        let bytes = sample()
        // Cut inside the third header.
        #expect(ustarError(Array(bytes[0..<(3 * 512 + 100)])) == .truncatedHeader(offset: 3 * 512))
        // Cut inside big's data (its header is at block 3, data from block 4).
        #expect(ustarError(Array(bytes[0..<(4 * 512 + 700)])) == .truncatedData(offset: 3 * 512))
        // Whole members but no end-of-archive block.
        #expect(ustarError(Array(bytes[0..<(3 * 512)])) == .missingEndOfArchive)
        #expect(ustarError([]) == .missingEndOfArchive)
    }

    @Test func rejectsSizeBeyondBuffer() {
        var b = UstarBuilder()
        b.add("a", [], sizeField: "77777777777")  // claims 8 GiB of data
        #expect(ustarError(b.finish()) == .truncatedData(offset: 0))
    }

    @Test func errorsHaveDescriptions() {
        let all: [UstarError] = [.truncatedHeader(offset: 0), .truncatedData(offset: 0), .missingEndOfArchive,
                                 .badMagic(offset: 0), .badChecksum(offset: 0), .badNumber(offset: 0),
                                 .notFound, .notARegularFile]
        for error in all { #expect(error.description.utf8CodeUnitCount > 10) }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: initrdPath), "needs make initrd"))
    func readsTheRealBootArchive() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: initrdPath)))
        try withArchive(bytes) { archive in
            let hello = try archive.file(at: "/bin/hello")
            #expect(hello.count > 64)
            #expect(Array(hello.prefix(4)) == [0x7f, 0x45, 0x4c, 0x46])
            let onDisk = [UInt8](try Data(contentsOf: userBuildDirectory.appendingPathComponent("user/bin/hello")))
            #expect(Array(hello) == onDisk)
            #expect(archive.entries.contains { $0.path == "bin/argv_auxv" })
        }
    }
}
