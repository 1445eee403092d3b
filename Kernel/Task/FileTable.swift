// Open files: a per-task table of descriptors, each pointing at a shared
// open-file description (Linux struct file): fork copies the table, and
// parent and child then share each description, offset included.
//
// What can be open: the serial console (fds 0, 1 and 2 of every task,
// readable and writable like a tty), and files and directories of the boot
// archive, read-only.

final class OpenFile {
    enum Kind {
        case console
        case file(UnsafeRawBufferPointer)
        /// A directory of the archive file system, by path.
        case directory([UInt8])
    }
    let kind: Kind
    /// Bytes read so far (files) or entries listed so far (directories).
    var offset = 0

    init(_ kind: Kind) { self.kind = kind }

    /// The one console description every task starts with.
    static let console = OpenFile(.console)
}

struct FileTable {
    /// Highest number of descriptors per task (RLIMIT_NOFILE, much reduced).
    static let limit = 64
    static let standardStreams = 3

    private var slots: [OpenFile?]

    /// fds 0, 1 and 2 on the console.
    static func standard() -> FileTable {
        var table = FileTable(slots: [OpenFile?](repeating: nil, count: limit))
        for fd in 0..<standardStreams { table.slots[fd] = OpenFile.console }
        return table
    }

    private init(slots: [OpenFile?]) { self.slots = slots }

    /// The description behind `fd`, or nil (EBADF).
    func file(_ fd: Int64) -> OpenFile? {
        guard fd >= 0, fd < Int64(slots.count) else { return nil }
        return slots[Int(fd)]
    }

    /// Puts `file` in the lowest free slot, as POSIX requires; nil when full (EMFILE).
    mutating func install(_ file: OpenFile) -> Int? {
        guard let fd = slots.firstIndex(where: { $0 == nil }) else { return nil }
        slots[fd] = file
        return fd
    }

    /// Frees `fd`; false if it was not open (EBADF).
    mutating func close(_ fd: Int64) -> Bool {
        guard file(fd) != nil else { return false }
        slots[Int(fd)] = nil
        return true
    }

    /// Closes everything (exit).
    mutating func closeAll() {
        for fd in slots.indices { slots[fd] = nil }
    }
}
