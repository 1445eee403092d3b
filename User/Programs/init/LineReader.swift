// User/Programs/init/LineReader.swift: reading whole lines from fd 0.
//
// Design: one fixed buffer of `capacity` bytes collects input. On our
// kernel the console is in canonical mode, so a read returns at most one
// line; on Linux a pipe may deliver many lines (or part of one) per read.
// Either way, a line is returned as soon as its '\n' is in the buffer, and
// what follows stays buffered for the next call. A line that does not fit
// (no '\n' within `capacity` bytes) is skipped up to its '\n' and reported
// as `.tooLong`. Input ending without a final '\n' still yields that last
// line before `.endOfInput`.
import UserRuntime

/// What `LineReader.nextLine` found.
enum LineResult {
    /// A line without its '\n'; valid until the next call to nextLine.
    case line(UnsafeBufferPointer<UInt8>)
    /// A line longer than the buffer was read and thrown away.
    case tooLong
    /// fd 0 is at end of input (read returned 0).
    case endOfInput
    /// read failed with this negative errno.
    case readError(Int)
}

/// Splits the byte stream of one file descriptor into lines.
struct LineReader: ~Copyable {
    private let fd: Int
    private let buffer: UnsafeMutablePointer<UInt8>
    /// Bytes the buffer holds; the longest line is `capacity - 1` bytes plus '\n'.
    let capacity: Int
    /// Unconsumed input is buffer[start..<end].
    private var start = 0
    private var end = 0
    /// True while skipping the rest of a line that did not fit.
    private var discarding = false

    /// Creates a reader of `fd` that holds up to `capacity` bytes.
    init(fd: Int, capacity: Int) {
        self.fd = fd
        self.capacity = capacity
        buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Returns the next line, reading from fd as needed (retrying EINTR).
    mutating func nextLine() -> LineResult {
        while true {
            if let newline = indexOfNewline() {
                let lineStart = start
                start = newline + 1
                if discarding {
                    discarding = false
                    return .tooLong
                }
                return .line(UnsafeBufferPointer(start: buffer + lineStart, count: newline - lineStart))
            }
            makeRoom()
            let count = sys_read(fd, buffer + end, capacity - end)
            if count == -Errno.EINTR { continue }
            if count < 0 { return .readError(count) }
            if count == 0 { return finalLine() }
            end += count
        }
    }

    /// Index of the first '\n' among the unconsumed bytes, or nil.
    private func indexOfNewline() -> Int? {
        var index = start
        while index < end {
            if buffer[index] == UInt8(ascii: "\n") { return index }
            index += 1
        }
        return nil
    }

    /// Moves the unconsumed bytes (a partial line) to the front so the next
    /// read has space; a partial line that already fills the buffer cannot
    /// fit and is dropped, switching to discarding mode.
    private mutating func makeRoom() {
        let pending = end - start
        if discarding || pending == capacity {
            discarding = true
            start = 0
            end = 0
            return
        }
        if start > 0 {
            UnsafeMutableRawPointer(buffer).copyMemory(from: buffer + start, byteCount: pending)
            start = 0
            end = pending
        }
    }

    /// At end of input: the unterminated last line if there is one, else
    /// `.endOfInput` (or `.tooLong` once for a last line that did not fit).
    private mutating func finalLine() -> LineResult {
        if discarding {
            discarding = false
            return .tooLong
        }
        guard end > start else { return .endOfInput }
        let lineStart = start
        let lineEnd = end
        start = end
        return .line(UnsafeBufferPointer(start: buffer + lineStart, count: lineEnd - lineStart))
    }
}
