// The console's line discipline: what a Linux tty does in canonical mode
// (drivers/tty/n_tty.c), reduced to what a serial shell needs.
//
// Bytes typed on the console are collected into a line, echoed back, and
// edited (backspace erases); a line becomes readable when Enter arrives.
// read(2) on the console then returns at most one line, so a shell reading
// with a large buffer still gets one command at a time. Ctrl-D on an empty
// line is end-of-file: the next read returns 0. Ctrl-C (the interrupt
// character, ISIG) discards the line being typed and echoes "^C"; sending
// SIGINT is the console device's job (Kernel/Monitor/ConsoleInterrupt.swift).

public struct LineDiscipline {
    public static let newline = UInt8(ascii: "\n")
    public static let carriageReturn = UInt8(ascii: "\r")
    public static let backspace: UInt8 = 0x08
    public static let delete: UInt8 = 0x7F
    public static let endOfFile: UInt8 = 0x04          // Ctrl-D
    public static let interrupt: UInt8 = 0x03          // Ctrl-C (VINTR)
    /// A longer line is cut here, as n_tty cuts at N_TTY_BUF_SIZE.
    public static let maximumLineLength = 1024

    /// The line being typed, not yet readable.
    private var editing: [UInt8] = []
    /// Completed lines (each ending in "\n"), oldest first, and EOF marks.
    private var ready: [Chunk] = []

    private enum Chunk {
        case bytes([UInt8])
        case endOfFile
    }

    public init() {}

    /// True when a read would return at once (data or end-of-file).
    public var hasReadableInput: Bool { !ready.isEmpty }

    /// Takes one typed byte; calls `echo` with what the terminal should show.
    /// Returns true when a line (or end-of-file) became readable.
    public mutating func receive(_ byte: UInt8, echo: (UInt8) -> Void) -> Bool {
        switch byte {
        case Self.carriageReturn, Self.newline:
            editing.append(Self.newline)
            echo(Self.newline)
            ready.append(.bytes(editing))
            editing = []
            return true
        case Self.backspace, Self.delete:
            guard !editing.isEmpty else { return false }
            editing.removeLast()
            echo(Self.backspace); echo(UInt8(ascii: " ")); echo(Self.backspace)
            return false
        case Self.endOfFile:
            // On a non-empty line Ctrl-D hands over what was typed, without a newline.
            ready.append(editing.isEmpty ? .endOfFile : .bytes(editing))
            editing = []
            return true
        default:
            guard editing.count < Self.maximumLineLength - 1 else { return false }
            editing.append(byte)
            echo(byte)
            return false
        }
    }

    /// Ctrl-C: drops the line being typed (completed lines stay readable;
    /// Linux flushes those too unless NOFLSH, but a shell has read them by
    /// then) and echoes "^C" and a newline, as n_tty does.
    public mutating func interrupt(echo: (UInt8) -> Void) {
        editing = []
        echo(UInt8(ascii: "^")); echo(UInt8(ascii: "C")); echo(Self.newline)
    }

    /// What read(2) returns for a buffer of `capacity` bytes: up to one
    /// line (the rest of a longer line stays for the next read), an empty
    /// array for end-of-file, or nil when nothing is readable yet (the
    /// reader must wait). Contract: capacity > 0.
    public mutating func read(capacity: Int) -> [UInt8]? {
        guard let first = ready.first else { return nil }
        switch first {
        case .endOfFile:
            ready.removeFirst()
            return []
        case .bytes(let line):
            if line.count <= capacity {
                ready.removeFirst()
                return line
            }
            ready[0] = .bytes(Array(line[capacity...]))
            return Array(line[..<capacity])
        }
    }
}
