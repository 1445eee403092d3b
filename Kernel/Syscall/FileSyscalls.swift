// read, write, open, openat, close, getdents64 over the console and the
// boot archive (Linux fs/read_write.c, fs/open.c, fs/readdir.c).
enum FileSyscalls {
    /// Bytes moved per user copy.
    static let chunkSize = 256

    /// write(fd, buffer, count): the console only (archive files are read-only).
    ///
    /// Contract: writes at most ConsoleDevice.maximumWriteBytes and returns
    /// how many it wrote, so one call keeps interrupts off for a bounded
    /// time (review finding 4: an unbounded write froze the machine).
    /// Known deviation: Linux's tty write blocks until it wrote everything;
    /// here a long write returns a short count, which POSIX allows and
    /// every caller that loops on write() handles.
    static func write(_ task: Task, fd: Int64, buffer: UInt64, count: UInt64) -> SyscallOutcome {
        guard let file = task.files.file(fd), case .console = file.kind else { return .error(.EBADF) }
        guard UserMemory.isUserRange(buffer, Int(clamping: count)) else { return .error(.EFAULT) }
        let total = min(Int(count), ConsoleDevice.maximumWriteBytes)
        var done = 0
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while done < total {
            let n = min(chunkSize, total - done)
            let copied = chunk.withUnsafeMutableBytes { UserMemory.copyIn(from: buffer + UInt64(done), to: $0.baseAddress!, count: n) }
            guard copied else { return done > 0 ? .integer(done) : .error(.EFAULT) }
            chunk.withUnsafeBytes { ConsoleDevice.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            done += n
        }
        return .integer(done)
    }

    /// read(fd, buffer, count): a console read returns at most one line
    /// and blocks until one is typed; a file read continues at the offset.
    static func read(_ task: Task, fd: Int64, buffer: UInt64, count: UInt64) -> SyscallOutcome {
        guard let file = task.files.file(fd) else { return .error(.EBADF) }
        let capacity = Int(clamping: count)
        guard UserMemory.isUserRange(buffer, capacity) else { return .error(.EFAULT) }
        // Linux's order (vfs_read): access_ok, then the file's read, which
        // for a directory is -EISDIR even for 0 bytes.
        if case .directory = file.kind { return .error(.EISDIR) }
        if capacity == 0 { return .value(0) }
        switch file.kind {
        case .console:
            // As Linux's tty_read: block for a line, then copy it; only the
            // bytes the line fills must be writable, and a fault part-way
            // gives the count copied (-EFAULT if none), the rest of the
            // line being consumed (iterate_tty_read). So a 16-byte buffer
            // at the end of a page reads a short line with count 4096.
            guard let line = ConsoleDevice.input.read(capacity: capacity) else { return .block(.consoleInput) }
            guard !line.isEmpty else { return .value(0) }
            let copied = line.withUnsafeBytes {
                UserMemory.copyOutPrefix($0.baseAddress!, to: buffer, count: line.count)
            }
            return copied > 0 ? .integer(copied) : .error(.EFAULT)
        case .file(let contents):
            // A fault part-way gives the short count of what was copied,
            // -EFAULT only when nothing was (Linux filemap_read: "return
            // already_read ? already_read : error").
            let n = min(capacity, contents.count - file.offset)
            guard n > 0 else { return .value(0) }
            let copied = UserMemory.copyOutPrefix(contents.baseAddress! + file.offset, to: buffer, count: n)
            guard copied > 0 else { return .error(.EFAULT) }
            file.offset += copied
            return .integer(copied)
        case .directory:
            return .error(.EISDIR)
        }
    }

    /// open/openat(directoryFd, path, flags): read-only files and
    /// directories of the archive. Writing, truncating or creating fails
    /// with -EROFS; in Linux's order: O_CREAT|O_DIRECTORY is -EINVAL
    /// (build_open_flags, 6.4+), a file named as a directory (a trailing
    /// slash, or a file as a path component) -ENOTDIR, O_CREAT under a
    /// missing directory -ENOENT.
    static func open(_ task: Task, directoryFd: Int64, path: UInt64, flags: UInt64) -> SyscallOutcome {
        if flags & FileABI.create != 0 && flags & FileABI.directory != 0 { return .error(.EINVAL) }
        var pathBytes: [UInt8]
        do throws(UserMemory.StringError) {
            pathBytes = try UserMemory.string(at: path, maximumLength: UserMemory.maximumPathLength)
        } catch {
            return .error(error == .fault ? .EFAULT : .ENAMETOOLONG)
        }
        if pathBytes.isEmpty { return .error(.ENOENT) }
        if pathBytes[0] != UInt8(ascii: "/") && directoryFd != FileABI.atWorkingDirectory {
            guard let base = task.files.file(directoryFd) else { return .error(.EBADF) }
            guard case .directory(let basePath) = base.kind else { return .error(.ENOTDIR) }
            pathBytes = basePath + [UInt8(ascii: "/")] + pathBytes
        }
        guard let fileSystem = ProcessTable.fileSystem else { return .error(.ENOENT) }
        if let errno = fileComponentError(pathBytes, fileSystem) { return .error(errno) }
        guard let node = fileSystem.lookup(pathBytes) else {
            guard flags & FileABI.create != 0 else { return .error(.ENOENT) }
            // Creating: EROFS only where the parent directory exists.
            let parent = Array(pathBytes[..<(pathBytes.lastIndex(of: UInt8(ascii: "/")) ?? 0)])
            let parentExists = parent.isEmpty || fileSystem.lookup(parent) != nil
            return .error(parentExists ? .EROFS : .ENOENT)
        }
        // The order of Linux's checks: O_EXCL, then the type (may_open), then read-only.
        if flags & (FileABI.create | FileABI.exclusive) == FileABI.create | FileABI.exclusive { return .error(.EEXIST) }
        // O_TRUNC asks for write access too (do_open: MAY_WRITE).
        let writing = flags & FileABI.accessModeMask != FileABI.readOnly || flags & FileABI.truncate != 0
        let file: OpenFile
        switch node {
        case .file(let contents):
            if flags & FileABI.directory != 0 || pathBytes.last == UInt8(ascii: "/") { return .error(.ENOTDIR) }
            if writing { return .error(.EROFS) }
            file = OpenFile(.file(contents))
        case .directory(let directoryPath):
            if writing { return .error(.EISDIR) }
            file = OpenFile(.directory(directoryPath))
        }
        guard let fd = task.files.install(file) else { return .error(.EMFILE) }
        return .integer(fd)
    }

    /// ENOTDIR when a component before the last names a file
    /// ("/bin/hello/x"), as Linux's path walk finds; nil otherwise.
    static func fileComponentError(_ path: [UInt8], _ fileSystem: ArchiveFileSystem) -> Errno? {
        var index = 1
        while index < path.count {
            if path[index] == UInt8(ascii: "/"), index + 1 < path.count,
               case .file = fileSystem.lookup(Array(path[..<index])) {
                return .ENOTDIR
            }
            index += 1
        }
        return nil
    }

    static func close(_ task: Task, fd: Int64) -> SyscallOutcome {
        task.files.close(fd) ? .value(0) : .error(.EBADF)
    }

    /// getdents64(fd, buffer, count): the next entries of a directory as
    /// struct linux_dirent64 records, "." and ".." first; 0 at the end.
    static func getdents64(_ task: Task, fd: Int64, buffer: UInt64, count: UInt64) -> SyscallOutcome {
        guard let file = task.files.file(fd) else { return .error(.EBADF) }
        guard case .directory(let path) = file.kind else { return .error(.ENOTDIR) }
        guard let fileSystem = ProcessTable.fileSystem else { return .error(.ENOENT) }
        // No access_ok first: Linux (fs/readdir.c) checks each record as
        // filldir64 writes it, so a buffer too small for one record is
        // -EINVAL whatever its address.
        let capacity = Int(clamping: count)
        let entries = [DirectoryEntry(name: [UInt8(ascii: ".")], isDirectory: true),
                       DirectoryEntry(name: [UInt8(ascii: "."), UInt8(ascii: ".")], isDirectory: true)]
            + fileSystem.list(path)
        var records: [UInt8] = []
        var recordEnds: [Int] = []    // where each record ends in `records`
        var index = file.offset
        while index < entries.count {
            let entry = entries[index]
            let unpadded = FileABI.direntNameOffset + entry.name.count + 1
            let length = (unpadded + FileABI.direntAlignment - 1) / FileABI.direntAlignment * FileABI.direntAlignment
            guard records.count + length <= capacity else { break }
            appendLittleEndian(UInt64(index + 1), to: &records)          // d_ino (never 0)
            appendLittleEndian(UInt64(index + 1), to: &records)          // d_off: where the next read starts
            appendLittleEndian(UInt16(length), to: &records)             // d_reclen
            records.append(entry.isDirectory ? FileABI.directoryTypeDirectory : FileABI.directoryTypeRegular)
            records += entry.name
            records += [UInt8](repeating: 0, count: length - FileABI.direntNameOffset - entry.name.count)
            recordEnds.append(records.count)
            index += 1
        }
        if records.isEmpty && index < entries.count { return .error(.EINVAL) }   // buffer too small for one
        if records.isEmpty { return .value(0) }
        // A fault part-way keeps the records wholly copied before it and
        // returns their length; -EFAULT only when not even the first one
        // fits (Linux getdents64: "error = count - buf.count" once a
        // record went out). The next call starts at the first lost entry.
        let copied = records.withUnsafeBytes { UserMemory.copyOutPrefix($0.baseAddress!, to: buffer, count: records.count) }
        let whole = recordEnds.lastIndex(where: { $0 <= copied }).map { $0 + 1 } ?? 0
        guard whole > 0 else { return .error(.EFAULT) }
        file.offset += whole
        return .integer(recordEnds[whole - 1])
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        for i in 0..<(T.bitWidth / 8) { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }
}
