// The boot archive as a read-only file system.
//
// GRUB loads a ustar archive next to the kernel; its members become the
// whole file tree, rooted at "/": the member "bin/hello" is "/bin/hello".
// Directories exist either as their own members or implicitly, because a
// member lives below them. Nothing can be written.
//
// Paths are absolute (a relative path is taken from "/", the only working
// directory there is); "." components and repeated slashes are ignored,
// ".." is refused rather than resolved.

public enum FileSystemNode {
    case file(UnsafeRawBufferPointer)
    case directory(path: [UInt8])
}

public struct DirectoryEntry: Equatable {
    public var name: [UInt8]
    public var isDirectory: Bool
}

public struct ArchiveFileSystem {
    public let archive: UstarArchive
    private static let slash = UInt8(ascii: "/")

    /// Each member's path components (`components`), by archive index,
    /// split once here: every lookup compares against all of them, and
    /// splitting each member's path again at every exec cost more than the
    /// rest of exec together.
    private let memberComponents: [[[UInt8]]?]

    public init(archive: UstarArchive) {
        self.archive = archive
        memberComponents = archive.entries.map { Self.components(Array($0.path.utf8)) }
    }

    /// The file or directory at `path`, or nil when nothing is there.
    public func lookup(_ path: [UInt8]) -> FileSystemNode? {
        guard let components = Self.components(path) else { return nil }
        if components.isEmpty { return .directory(path: []) }
        for index in archive.entries.indices.reversed() {
            guard let member = memberComponents[index] else { continue }
            if member == components {
                let entry = archive.entries[index]
                switch entry.kind {
                case .regularFile: return .file(archive.contents(of: entry))
                case .directory: return .directory(path: Self.join(components))
                default: return nil
                }
            }
            if member.count > components.count && member[..<components.count].elementsEqual(components) {
                return .directory(path: Self.join(components))
            }
        }
        return nil
    }

    /// The names directly inside the directory `directory` (as `lookup`
    /// returned it), each once, in archive order.
    public func list(_ directory: [UInt8]) -> [DirectoryEntry] {
        let parent = directory.isEmpty ? [] : (Self.components(directory) ?? [])
        var result: [DirectoryEntry] = []
        for entry in archive.entries {
            guard let member = Self.components(Array(entry.path.utf8)),
                  member.count > parent.count, Array(member[..<parent.count]) == parent else { continue }
            let name = member[parent.count]
            let isDirectory = member.count > parent.count + 1 || entry.kind == .directory
            if let index = result.firstIndex(where: { $0.name == name }) {
                if isDirectory { result[index].isDirectory = true }
            } else {
                result.append(DirectoryEntry(name: name, isDirectory: isDirectory))
            }
        }
        return result
    }

    /// The non-empty components of `path`, or nil if it contains "..".
    static func components(_ path: [UInt8]) -> [[UInt8]]? {
        var result: [[UInt8]] = []
        for part in path.split(separator: slash, omittingEmptySubsequences: true) {
            let component = Array(part)
            if component == [UInt8(ascii: ".")] { continue }
            if component == [UInt8(ascii: "."), UInt8(ascii: ".")] { return nil }
            result.append(component)
        }
        return result
    }

    static func join(_ components: [[UInt8]]) -> [UInt8] {
        var path: [UInt8] = []
        for (i, component) in components.enumerated() {
            if i > 0 { path.append(slash) }
            path += component
        }
        return path
    }
}
