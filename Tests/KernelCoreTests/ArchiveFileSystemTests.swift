// Host tests of the boot archive as a file system (Kernel/FileSystem).
import Testing
@testable import KernelCore

@Suite struct ArchiveFileSystemTests {
    func sample() -> [UInt8] {
        var b = UstarBuilder()
        b.add("bin/", [], type: UInt8(ascii: "5"))
        b.add("bin/hello", Array("HELLO".utf8))
        b.add("bin/init", Array("INIT".utf8))
        b.add("etc/motd", Array("hi".utf8))          // its directory has no member of its own
        return b.finish()
    }

    func withFileSystem(_ body: (ArchiveFileSystem) throws -> Void) throws {
        try withArchive(sample()) { try body(ArchiveFileSystem(archive: $0)) }
    }

    func contents(_ node: FileSystemNode?) -> [UInt8]? {
        guard case .file(let bytes) = node else { return nil }
        return Array(bytes)
    }

    @Test func findsFilesByAbsoluteOrRelativePath() throws {
        try withFileSystem { fs in
            #expect(contents(fs.lookup(Array("/bin/hello".utf8))) == Array("HELLO".utf8))
            #expect(contents(fs.lookup(Array("bin//./hello".utf8))) == Array("HELLO".utf8))
            #expect(fs.lookup(Array("/bin/nothing".utf8)) == nil)
            #expect(fs.lookup(Array("/bin/../bin/hello".utf8)) == nil, "'..' is refused")
        }
    }

    @Test func directoriesExplicitImplicitAndRoot() throws {
        try withFileSystem { fs in
            guard case .directory(let bin) = fs.lookup(Array("/bin/".utf8)) else { Issue.record("bin"); return }
            #expect(bin == Array("bin".utf8))
            guard case .directory = fs.lookup(Array("/etc".utf8)) else { Issue.record("implicit etc"); return }
            guard case .directory(let root) = fs.lookup(Array("/".utf8)) else { Issue.record("root"); return }
            #expect(root.isEmpty)
        }
    }

    @Test func listsDirectChildrenOnce() throws {
        try withFileSystem { fs in
            #expect(fs.list(Array("bin".utf8)) == [DirectoryEntry(name: Array("hello".utf8), isDirectory: false),
                                                   DirectoryEntry(name: Array("init".utf8), isDirectory: false)])
            #expect(fs.list([]) == [DirectoryEntry(name: Array("bin".utf8), isDirectory: true),
                                    DirectoryEntry(name: Array("etc".utf8), isDirectory: true)])
        }
    }
}
