// User/Runtime/Swift/Text.swift: building and parsing C strings without
// Swift String (paths for execve/open, numbers from argv).
//
// Design: a CStringBuilder owns one fixed allocation made when it is created
// and never grows, so a program that creates its builders up front does no
// further heap work; an append that does not fit marks the builder
// overflowed instead of truncating silently.

extension StaticString {
    /// The literal as a NUL-terminated C string (string literals are stored
    /// NUL-terminated).
    public var cStringPointer: UnsafePointer<CChar> {
        UnsafeRawPointer(utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

/// A NUL-terminated byte string with a fixed capacity.
public struct CStringBuilder: ~Copyable {
    private let storage: UnsafeMutablePointer<CChar>
    /// Maximum length in bytes, not counting the terminating NUL.
    public let capacity: Int
    /// Current length in bytes, not counting the terminating NUL.
    public private(set) var length = 0
    /// True once an append did not fit; the contents are then incomplete.
    public private(set) var overflowed = false

    /// Creates an empty builder for strings of up to `capacity` bytes.
    public init(capacity: Int) {
        self.capacity = capacity
        storage = UnsafeMutablePointer<CChar>.allocate(capacity: capacity + 1)
        storage[0] = 0
    }

    deinit { storage.deallocate() }

    /// The contents, always NUL-terminated; valid until the next mutation.
    public var cString: UnsafePointer<CChar> { UnsafePointer(storage) }

    /// Empties the builder and clears `overflowed`.
    public mutating func clear() {
        length = 0
        overflowed = false
        storage[0] = 0
    }

    /// Appends the bytes of a static string.
    public mutating func append(_ text: StaticString) {
        append(bytes: UnsafeRawPointer(text.utf8Start), count: text.utf8CodeUnitCount)
    }

    /// Appends a NUL-terminated C string.
    public mutating func append(cString text: UnsafePointer<CChar>) {
        append(bytes: UnsafeRawPointer(text), count: cStringLength(text))
    }

    /// Appends `count` raw bytes; on overflow appends nothing and sets
    /// `overflowed`.
    public mutating func append(bytes: UnsafeRawPointer, count: Int) {
        guard !overflowed, count <= capacity - length else {
            overflowed = true
            return
        }
        UnsafeMutableRawPointer(storage + length).copyMemory(from: bytes, byteCount: count)
        length += count
        storage[length] = 0
    }
}

/// Parses a non-negative decimal integer that makes up the whole C string
/// `text` (digits only, at least one, at most `limit`). Returns nil for an
/// empty string, any non-digit, or a value above `limit`.
public func parseDecimal(_ text: UnsafePointer<CChar>, limit: Int = Int.max) -> Int? {
    let decimalBase = 10
    var value = 0
    var index = 0
    while text[index] != 0 {
        let byte = UInt8(bitPattern: text[index])
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        let digit = Int(byte - UInt8(ascii: "0"))
        guard value <= (limit - digit) / decimalBase else { return nil }
        value = value * decimalBase + digit
        index += 1
    }
    return index > 0 ? value : nil
}
