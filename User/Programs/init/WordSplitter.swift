// User/Programs/init/WordSplitter.swift: turning a command line into an
// argv vector.
//
// Design: words are separated by spaces, tabs and carriage returns; double
// quotes group (and are removed), so `say "beta gamma"` is two words and
// `a"b c"d` is the one word `ab cd`; `""` is an empty word. There are no
// escapes and no other quoting. The words are copied NUL-terminated into one
// fixed text buffer and `argv` points at them, followed by a NULL, which is
// exactly what execve wants. All storage is allocated once.
import UserRuntime

/// Why a line could not be split.
enum SplitError: Error {
    case unterminatedQuote
    case tooManyWords
}

/// The words of the most recently split line.
struct Words: ~Copyable {
    /// Most words one line may have (argv then has maxCount + 1 slots).
    let maxCount: Int
    private let text: UnsafeMutablePointer<CChar>
    private let textCapacity: Int
    /// argv[0..<count] are the words, argv[count] is NULL.
    let argv: UnsafeMutablePointer<UnsafePointer<CChar>?>
    /// Number of words.
    private(set) var count = 0

    /// Creates storage for lines of up to `maxLineLength` bytes and at most
    /// `maxCount` words.
    init(maxLineLength: Int, maxCount: Int) {
        self.maxCount = maxCount
        // Removing quotes and separators never lengthens the text; each
        // word adds one NUL, and only the last word has no separator or
        // quote to pay for it.
        textCapacity = maxLineLength + 1
        text = UnsafeMutablePointer<CChar>.allocate(capacity: textCapacity)
        argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: maxCount + 1)
        argv[0] = nil
    }

    deinit {
        text.deallocate()
        argv.deallocate()
    }

    /// Word `index` (0 ≤ index < count) as a C string.
    subscript(index: Int) -> UnsafePointer<CChar> { argv[index]! }

    /// The argv vector as execve takes it (NULL-terminated).
    var vector: UnsafePointer<UnsafePointer<CChar>?> { UnsafePointer(argv) }

    /// True when word `index` exists and equals `text`.
    func word(_ index: Int, is text: StaticString) -> Bool {
        index < count && cStringEquals(argv[index], text)
    }

    /// Drops the last word (e.g. a trailing "&"); argv stays NULL-terminated.
    mutating func removeLast() {
        guard count > 0 else { return }
        count -= 1
        argv[count] = nil
    }

    /// Splits `line` (at most `maxLineLength` bytes) into the words. On
    /// failure the previous words are gone and `count` is 0.
    mutating func split(_ line: UnsafeBufferPointer<UInt8>) throws(SplitError) {
        count = 0
        argv[0] = nil
        var used = 0              // bytes of `text` written so far
        var inWord = false        // a word has started (possibly empty via "")
        var inQuotes = false
        var wordStart = 0
        for byte in line {
            if byte == UInt8(ascii: "\"") {
                if !inWord { inWord = true; wordStart = used }
                inQuotes.toggle()
            } else if !inQuotes && Words.isSeparator(byte) {
                if inWord {
                    try finishWord(startingAt: wordStart, used: &used)
                    inWord = false
                }
            } else {
                if !inWord { inWord = true; wordStart = used }
                text[used] = CChar(bitPattern: byte)
                used += 1
            }
        }
        if inQuotes {
            count = 0
            argv[0] = nil
            throw .unterminatedQuote
        }
        if inWord { try finishWord(startingAt: wordStart, used: &used) }
    }

    /// Terminates the word text[wordStart..<used] and appends it to argv.
    private mutating func finishWord(startingAt wordStart: Int, used: inout Int) throws(SplitError) {
        guard count < maxCount else {
            count = 0
            argv[0] = nil
            throw .tooManyWords
        }
        text[used] = 0
        used += 1
        argv[count] = UnsafePointer(text + wordStart)
        count += 1
        argv[count] = nil
    }

    /// Space, tab and carriage return separate words.
    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }
}
