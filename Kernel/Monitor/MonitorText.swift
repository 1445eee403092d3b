// Text for the kernel monitor: grouped hex, aligned columns, number parsing.
// The monitor runs with the heap working, so Strings are fine here (the
// panic path does not use this file).
enum MonitorText {
    /// `value` in hex, digits in groups of four from the right, no padding:
    /// 0x7f7f_bffd_f000, 0x0, 0x40_1000.
    static func hex(_ value: UInt64) -> String {
        var digits: [UInt8] = []
        formatHex(value, width: 1, prefix: false) { digits.append($0) }
        var out: [UInt8] = Array("0x".utf8)
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 4 == 0 { out.append(UInt8(ascii: "_")) }
            out.append(digit)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` padded with spaces to `width` bytes (left aligned, or right
    /// aligned for numbers). Longer text is kept whole.
    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let missing = width - text.utf8.count
        guard missing > 0 else { return text }
        let spaces = String(repeating: " ", count: missing)
        return right ? spaces + text : text + spaces
    }

    /// One line of columns: each cell padded to its width, separated by two spaces.
    static func row(_ cells: [(String, Int)], rightAligned: [Int] = []) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            if index > 0 { line += "  " }
            line += index == cells.count - 1 && !rightAligned.contains(index)
                ? cell.0 : pad(cell.0, cell.1, right: rightAligned.contains(index))
        }
        return line
    }

    /// A number typed by the user: decimal, or hex with 0x; `_` may group digits.
    static func parseNumber(_ word: Substring) -> UInt64? {
        var digits = Array(word.utf8.filter { $0 != UInt8(ascii: "_") })
        var radix: UInt64 = 10
        if digits.count > 2 && digits[0] == UInt8(ascii: "0") && (digits[1] | 0x20) == UInt8(ascii: "x") {
            radix = 16
            digits.removeFirst(2)
        }
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            let (product, overflow1) = value.multipliedReportingOverflow(by: radix)
            let (sum, overflow2) = product.addingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// "r-x", "rw-", "---" for a protection.
    static func protection(_ p: VMProtection) -> String {
        (p.contains(.read) ? "r" : "-") + (p.contains(.write) ? "w" : "-") + (p.contains(.execute) ? "x" : "-")
    }

    static func kind(_ kind: RegionKind) -> String {
        switch kind {
        case .image: return "image"
        case .heap: return "heap"
        case .stack: return "stack"
        case .anonymous: return "anon"
        default: return "other"
        }
    }

    static func taskState(_ state: TaskState) -> String {
        switch state {
        case .ready: return "ready"
        case .running: return "running"
        case .blocked(.consoleInput): return "blocked(console)"
        case .blocked(.childExit): return "blocked(wait)"
        case .zombie: return "zombie"
        default: return "blocked"
        }
    }

    static func staticText(_ text: StaticString) -> String { text.text }
}
