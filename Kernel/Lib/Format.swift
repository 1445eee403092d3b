// Number formatting that never allocates, for paths (panic, early boot,
// the heap itself) that must not touch the heap. Output goes to a sink
// closure, one ASCII byte at a time.

/// Hexadecimal digits for `value`, `0x`-prefixed and zero-padded to `width`.
@inline(never)
public func formatHex(_ value: UInt64, width: Int = 16, prefix: Bool = true, into sink: (UInt8) -> Void) {
    if prefix { sink(UInt8(ascii: "0")); sink(UInt8(ascii: "x")) }
    var digits = 1
    var rest = value >> 4
    while rest != 0 { digits += 1; rest >>= 4 }
    let count = max(digits, width)
    var shift = (count - 1) * 4
    while shift >= 0 {
        let nibble = shift >= 64 ? 0 : Int((value >> UInt64(shift)) & 0xF)
        sink(nibble < 10 ? UInt8(ascii: "0") + UInt8(nibble) : UInt8(ascii: "a") + UInt8(nibble - 10))
        shift -= 4
    }
}

/// Decimal digits for `value`.
@inline(never)
public func formatDecimal(_ value: UInt64, into sink: (UInt8) -> Void) {
    var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
    withUnsafeMutableBytes(of: &buffer) { bytes in
        var n = value
        var i = bytes.count
        repeat {
            i -= 1
            bytes[i] = UInt8(ascii: "0") + UInt8(n % 10)
            n /= 10
        } while n != 0
        while i < bytes.count { sink(bytes[i]); i += 1 }
    }
}

/// `value` as a `0x`-prefixed, 16-digit hexadecimal string (allocates).
public func hex(_ value: UInt64, width: Int = 16) -> String {
    var bytes: [UInt8] = []
    formatHex(value, width: width) { bytes.append($0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// `bytes` as a human size: "512 KiB", "3 MiB", "1 GiB" (rounded down).
public func formatSize(_ bytes: UInt64) -> String {
    let units: [(UInt64, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
    for (scale, unit) in units where bytes >= scale {
        let whole = bytes / scale
        let tenths = (bytes % scale) * 10 / scale
        return tenths == 0 ? "\(whole) \(unit)" : "\(whole).\(tenths) \(unit)"
    }
    return "\(bytes) B"
}

extension StaticString {
    /// The text as a String, for interpolation (Embedded Swift cannot
    /// interpolate a StaticString directly).
    public var text: String { withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }
}
