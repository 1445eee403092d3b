// User/Runtime/Swift/Output.swift: printing without the heap.
//
// Design: string interpolation and print() allocate; these helpers do not.
// They append to the runtime's line buffer (libc.c), the same buffer that
// putchar/print use, so mixed output keeps its order. A full line becomes a
// single write(2) to fd 1.
import UserRT

/// Writes a static string to stdout.
public func put(_ text: StaticString) {
    user_out_write(text.utf8Start, text.utf8CodeUnitCount)
}

/// Writes a NUL-terminated C string to stdout (nothing for NULL).
public func put(cString: UnsafePointer<CChar>?) {
    guard let cString else { return }
    user_out_write(cString, cStringLength(cString))
}

/// Writes a signed integer in decimal to stdout.
public func put(_ value: Int) {
    if value < 0 {
        put("-")
        put(unsigned: UInt(bitPattern: value).magnitudeOfNegative)
    } else {
        put(unsigned: UInt(value))
    }
}

/// Writes an unsigned integer in decimal to stdout.
public func put(unsigned value: UInt) {
    let decimalBase: UInt = 10
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes >= 20 digits
    withUnsafeMutableBytes(of: &digits) { buffer in
        var index = buffer.count
        var rest = value
        repeat {
            index -= 1
            buffer[index] = UInt8(ascii: "0") + UInt8(rest % decimalBase)
            rest /= decimalBase
        } while rest != 0
        user_out_write(buffer.baseAddress! + index, buffer.count - index)
    }
}

/// Writes `value` as 0x followed by 16 hexadecimal digits to stdout.
public func put(hex value: UInt64) {
    let hexDigits: StaticString = "0123456789abcdef"
    var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &text) { buffer in
        buffer[0] = UInt8(ascii: "0")
        buffer[1] = UInt8(ascii: "x")
        for i in 0..<16 {
            let nibble = Int((value >> UInt64(60 - 4 * i)) & 0xf)
            buffer[2 + i] = hexDigits.utf8Start[nibble]
        }
        user_out_write(buffer.baseAddress!, 18)
    }
}

/// Writes a newline (which flushes the line to fd 1).
public func newline() { put("\n") }

/// Writes out anything buffered for stdout now.
public func flushOutput() { user_out_flush() }

/// Length of a NUL-terminated C string.
public func cStringLength(_ string: UnsafePointer<CChar>) -> Int {
    var length = 0
    while string[length] != 0 { length += 1 }
    return length
}

/// True when the C string `string` equals the static string `text`.
public func cStringEquals(_ string: UnsafePointer<CChar>?, _ text: StaticString) -> Bool {
    guard let string else { return false }
    let count = text.utf8CodeUnitCount
    for i in 0..<count where UInt8(bitPattern: string[i]) != text.utf8Start[i] {
        return false
    }
    return string[count] == 0
}

/// True when the C string `string` begins with `prefix`.
public func cStringHasPrefix(_ string: UnsafePointer<CChar>?, _ prefix: StaticString) -> Bool {
    guard let string else { return false }
    for i in 0..<prefix.utf8CodeUnitCount where UInt8(bitPattern: string[i]) != prefix.utf8Start[i] {
        return false
    }
    return true
}

extension UInt {
    /// For the bit pattern of a negative Int, its magnitude (handles Int.min).
    fileprivate var magnitudeOfNegative: UInt { 0 &- self }
}
