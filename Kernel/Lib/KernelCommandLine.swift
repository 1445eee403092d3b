// The kernel command line, as GRUB passes it in the multiboot2 information.
//
// Syntax, as Linux's: words separated by spaces; a word is either a flag
// (`quiet`) or `key=value` (`test=panic-ud2`). Double quotes anywhere in a
// word group spaces and are dropped, as Linux's next_arg does: both
// `init="/bin/sh -x"` and `"init=/bin/sh -x"` (what GRUB passes for a
// grub.cfg word with spaces) give init = `/bin/sh -x`. A backslash makes
// the next character literal (GRUB escapes `"`, `'` and `\` that way). A
// later word with the same key wins.

public struct KernelCommandLine {
    public struct Option {
        public var key: String
        /// nil for a bare flag.
        public var value: String?
    }

    /// The text exactly as the boot loader passed it.
    public let raw: String
    public private(set) var options: [Option] = []

    public init(_ text: String) {
        raw = text
        var key: [UInt8] = []
        var value: [UInt8] = []
        var inValue = false
        var quoted = false
        var hasWord = false

        func finishWord() {
            if hasWord {
                let k = String(decoding: key, as: UTF8.self)
                let v: String? = inValue ? String(decoding: value, as: UTF8.self) : nil
                options.append(Option(key: k, value: v))
            }
            key = []; value = []; inValue = false; quoted = false; hasWord = false
        }

        var escaped = false
        for byte in text.utf8 {
            if escaped {
                escaped = false
                hasWord = true
                if inValue { value.append(byte) } else { key.append(byte) }
                continue
            }
            switch byte {
            case UInt8(ascii: "\\"):
                escaped = true
            case UInt8(ascii: " ") where !quoted, UInt8(ascii: "\t") where !quoted, UInt8(ascii: "\n") where !quoted:
                finishWord()
            case UInt8(ascii: "\""):
                quoted.toggle()
            case UInt8(ascii: "=") where !inValue:
                inValue = true
                hasWord = true
            default:
                hasWord = true
                if inValue { value.append(byte) } else { key.append(byte) }
            }
        }
        finishWord()
    }

    /// The value of the last `key=value` word, or nil.
    public func value(_ key: String) -> String? {
        var found: String? = nil
        for option in options where option.key == key { found = option.value }
        return found
    }

    /// True when `key` appears, as a flag or with a value.
    public func has(_ key: String) -> Bool {
        for option in options where option.key == key { return true }
        return false
    }
}
