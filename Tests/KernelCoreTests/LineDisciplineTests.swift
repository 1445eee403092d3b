// Host tests of the console line discipline (Kernel/Lib/LineDiscipline.swift).
import Testing
@testable import KernelCore

@Suite struct LineDisciplineTests {
    /// Feeds `text`; returns what was echoed and how many lines completed.
    func type(_ text: String, into line: inout LineDiscipline) -> (echo: [UInt8], completed: Int) {
        var echo: [UInt8] = []
        var completed = 0
        for byte in text.utf8 where line.receive(byte, echo: { echo.append($0) }) { completed += 1 }
        return (echo, completed)
    }

    @Test func nothingReadableUntilEnter() {
        var line = LineDiscipline()
        let typed = type("ls", into: &line)
        #expect(typed.echo == Array("ls".utf8))
        #expect(typed.completed == 0)
        #expect(!line.hasReadableInput)
        #expect(line.read(capacity: 10) == nil)
        #expect(type("\r", into: &line).completed == 1)
        #expect(line.read(capacity: 10) == Array("ls\n".utf8), "carriage return becomes newline")
        #expect(line.read(capacity: 10) == nil)
    }

    @Test func oneLinePerReadAndShortReadsKeepTheRest() {
        var line = LineDiscipline()
        _ = type("hello\nworld\n", into: &line)
        #expect(line.read(capacity: 3) == Array("hel".utf8))
        #expect(line.read(capacity: 100) == Array("lo\n".utf8), "the rest of the line, not the next one")
        #expect(line.read(capacity: 100) == Array("world\n".utf8))
    }

    @Test func backspaceErasesAndEchoesTheErase() {
        var line = LineDiscipline()
        let typed = type("lx\u{7f}s\n", into: &line)
        #expect(line.read(capacity: 10) == Array("ls\n".utf8))
        #expect(typed.echo == Array("lx\u{8} \u{8}s\n".utf8))
        let onEmpty = type("\u{8}", into: &line)
        #expect(onEmpty.echo.isEmpty, "nothing to erase on an empty line")
    }

    @Test func controlDIsEndOfFileOnAnEmptyLine() {
        var line = LineDiscipline()
        _ = type("\u{4}", into: &line)
        #expect(line.read(capacity: 10) == [], "EOF reads as 0 bytes")
        _ = type("ab\u{4}", into: &line)
        #expect(line.read(capacity: 10) == Array("ab".utf8), "Ctrl-D on a partial line hands it over")
    }

    @Test func controlCDiscardsTheTypedLineAndEchoesIt() {
        var line = LineDiscipline()
        _ = type("done\npartial", into: &line)
        var echo: [UInt8] = []
        line.interrupt(echo: { echo.append($0) })
        #expect(echo == Array("^C\n".utf8))
        _ = type("ls\n", into: &line)
        #expect(line.read(capacity: 100) == Array("done\n".utf8), "a completed line stays readable")
        #expect(line.read(capacity: 100) == Array("ls\n".utf8), "the partial line is gone")
    }

    @Test func overlongLinesAreCut() {
        var line = LineDiscipline()
        _ = type(String(repeating: "x", count: LineDiscipline.maximumLineLength + 50) + "\n", into: &line)
        #expect(line.read(capacity: 4096)?.count == LineDiscipline.maximumLineLength)
    }
}
