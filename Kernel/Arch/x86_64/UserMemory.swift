import HAL

// Reading and writing user memory on behalf of a syscall (Linux:
// copy_from_user, copy_to_user, strncpy_from_user).
//
// Two checks, as in Linux: first the range itself (access_ok): it must lie
// wholly below the end of user space without wrapping, so no pointer can
// reach the kernel half. Then the copy runs with SMAP lifted (stac/clac in
// Boot/usercopy.asm); an unmapped or write-protected user page faults, and
// the exception table turns the fault into a short copy. Either way the
// syscall returns -EFAULT and the kernel itself never faults for the user.
enum UserMemory {
    /// One past the highest user address (the first kernel PML4 slot).
    static let end: UInt64 = UserSpace.userEnd.raw
    /// The default bound of `string(at:)` (execve strings: ExecLimits).
    static let maximumStringLength = 4096
    /// Longest path, without its NUL: PATH_MAX (4096) counts the NUL, so
    /// Linux refuses a 4096-byte path with ENAMETOOLONG.
    static let maximumPathLength = 4095

    /// True when [address, address + count) is a user range (access_ok).
    static func isUserRange(_ address: UInt64, _ count: Int) -> Bool {
        guard count >= 0 else { return false }
        let (last, overflow) = address.addingReportingOverflow(UInt64(count))
        return !overflow && last <= end
    }

    /// Copies `count` bytes from user `address` into `buffer`. False if any
    /// byte is not readable user memory.
    static func copyIn(from address: UInt64, to buffer: UnsafeMutableRawPointer, count: Int) -> Bool {
        guard isUserRange(address, count) else { return false }
        if count == 0 { return true }
        return hal_user_copy(buffer, UnsafeRawPointer(bitPattern: UInt(address)), UInt64(count)) == 0
    }

    /// Copies `count` bytes from `buffer` to user `address`. False if any
    /// byte is not writable user memory (some may have been written).
    static func copyOut(_ buffer: UnsafeRawPointer, to address: UInt64, count: Int) -> Bool {
        guard isUserRange(address, count) else { return false }
        if count == 0 { return true }
        return hal_user_copy(UnsafeMutableRawPointer(bitPattern: UInt(address)), buffer, UInt64(count)) == 0
    }

    /// Copies `count` bytes from `buffer` to user `address` up to the first
    /// byte that is not writable user memory, and returns how many it
    /// copied (0 when the range is not a user range at all).
    ///
    /// Contract: the bytes before the returned count are written, none
    /// after; `rep movsb` stops exactly at the faulting byte, as Linux's
    /// copy_to_user does, which read() and getdents64 need to return a
    /// short count (filemap_read, filldir64) instead of -EFAULT.
    static func copyOutPrefix(_ buffer: UnsafeRawPointer, to address: UInt64, count: Int) -> Int {
        guard isUserRange(address, count) else { return 0 }
        if count == 0 { return 0 }
        let notCopied = hal_user_copy(UnsafeMutableRawPointer(bitPattern: UInt(address)), buffer, UInt64(count))
        return count - Int(notCopied)
    }

    /// Stores one value of type T at user `address`.
    static func store<T: BitwiseCopyable>(_ value: T, at address: UInt64) -> Bool {
        withUnsafeBytes(of: value) { copyOut($0.baseAddress!, to: address, count: $0.count) }
    }

    /// Loads one value of type T from user `address`, or nil.
    static func load<T: BitwiseCopyable>(_ type: T.Type, from address: UInt64) -> T? {
        withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { buffer -> T? in
            guard copyIn(from: address, to: UnsafeMutableRawPointer(buffer.baseAddress!),
                         count: MemoryLayout<T>.size) else { return nil }
            return buffer[0]
        }
    }

    enum StringError: Error { case fault, tooLong }

    /// Bytes a string read copies at a time (never across a page, so a
    /// readable first byte means the whole chunk is readable); the first
    /// copy of each string is smaller, since execve's many short strings
    /// would otherwise each cost a full chunk.
    static let stringChunk = 512
    static let firstStringChunk = 16

    /// The index of the first NUL in the `count` bytes at `bytes`, or nil:
    /// eight bytes at a time (the has-zero-byte test of Linux's
    /// word-at-a-time strncpy_from_user), so a 2 MiB execve spends little
    /// time here with interrupts off.
    static func firstZero(_ bytes: UnsafeRawPointer, count: Int) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        while i + 8 <= count {
            // SAFETY: [i, i + 8) lies inside the `count` bytes.
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if (word &- ones) & ~word & highs != 0 { break }
            i += 8
        }
        while i < count {
            // SAFETY: i < count.
            if bytes.load(fromByteOffset: i, as: UInt8.self) == 0 { return i }
            i += 1
        }
        return nil
    }

    /// Appends the NUL-terminated string at user `address` to `bytes`,
    /// NUL included, and returns its length with the NUL (Linux
    /// strnlen_user + copy). Throws `.fault` when a byte before the NUL is
    /// unreadable, `.tooLong` when the first `maximumLength` bytes hold no
    /// NUL; `bytes` may then have grown by up to `maximumLength`.
    static func appendString(at address: UInt64, maximumLength: Int, to bytes: inout [UInt8]) throws(StringError) -> Int {
        try withUnsafeTemporaryAllocation(byteCount: stringChunk, alignment: 8) { chunk throws(StringError) -> Int in
            try appendString(at: address, maximumLength: maximumLength, to: &bytes, scratch: chunk)
        }
    }

    /// The same with the caller's `scratch` (at least `stringChunk` bytes),
    /// for a caller reading many strings (execve).
    static func appendString(at address: UInt64, maximumLength: Int, to bytes: inout [UInt8],
                             scratch chunk: UnsafeMutableRawBufferPointer) throws(StringError) -> Int {
        var cursor = address, length = 0
        while length < maximumLength {
            let toPageEnd = Int(pageSize - (cursor & (pageSize - 1)))
            let n = min(length == 0 ? firstStringChunk : stringChunk, toPageEnd, maximumLength - length)
            guard copyIn(from: cursor, to: chunk.baseAddress!, count: n) else { throw .fault }
            if let zero = firstZero(chunk.baseAddress!, count: n) {
                if zero < firstStringChunk {
                    // A short string: byte appends beat the generic bulk append.
                    for i in 0...zero { bytes.append(chunk[i]) }
                } else {
                    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0...zero]))
                }
                return length + zero + 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            length += n
            cursor += UInt64(n)
        }
        throw .tooLong
    }

    /// The NUL-terminated string at user `address` (without its NUL), at
    /// most `maximumLength` bytes before the NUL.
    static func string(at address: UInt64, maximumLength: Int = maximumStringLength) throws(StringError) -> [UInt8] {
        var result: [UInt8] = []
        _ = try appendString(at: address, maximumLength: maximumLength + 1, to: &result)
        result.removeLast()
        return result
    }

    /// The pointers of the NULL-terminated array at user `address` (argv,
    /// envp), without the NULL; a NULL `address` is an empty array, as
    /// Linux allows. More than `maximumCount` pointers is `.tooLong`,
    /// found before reading further (Linux's count(): E2BIG).
    static func pointerArray(at address: UInt64, maximumCount: Int) throws(StringError) -> [UInt64] {
        var result: [UInt64] = []
        if address == 0 { return result }
        var cursor = address
        let wordsPerChunk = stringChunk / 8
        return try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: wordsPerChunk) { words throws(StringError) -> [UInt64] in
            while true {
                // Whole words up to the page end (a word may straddle it: then one at a time).
                let toPageEnd = Int(pageSize - (cursor & (pageSize - 1))) / 8
                let n = max(1, min(wordsPerChunk, toPageEnd))
                guard copyIn(from: cursor, to: UnsafeMutableRawPointer(words.baseAddress!), count: n * 8) else { throw .fault }
                for i in 0..<n {
                    if words[i] == 0 { return result }
                    guard result.count < maximumCount else { throw .tooLong }
                    result.append(words[i])
                }
                cursor += UInt64(n * 8)
            }
        }
    }
}
