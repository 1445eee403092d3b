import Testing
@testable import KernelCore

@Suite struct KernelCommandLineTests {
    @Test func flagsAndValues() {
        let line = KernelCommandLine("quiet test=all  init=/bin/sh")
        #expect(line.has("quiet"))
        #expect(line.value("quiet") == nil)
        #expect(line.value("test") == "all")
        #expect(line.value("init") == "/bin/sh")
        #expect(!line.has("missing"))
        #expect(line.options.count == 3)
    }

    @Test func quotedValuesKeepSpaces() {
        let line = KernelCommandLine("init=\"/bin/prog a b\" x=1")
        #expect(line.value("init") == "/bin/prog a b")
        #expect(line.value("x") == "1")
    }

    /// GRUB quotes a grub.cfg word that contains spaces as a whole.
    @Test func wholeWordQuotedAsGrubPassesIt() {
        let line = KernelCommandLine("\"init=/bin/runtests a b\" quiet")
        #expect(line.value("init") == "/bin/runtests a b")
        #expect(line.has("quiet"))
        #expect(line.options.count == 2)
    }

    /// GRUB puts a backslash before every ", ' and \ it passes on.
    @Test func backslashMakesTheNextCharacterLiteral() {
        let line = KernelCommandLine(#""init=/bin/hello it\'s x\\y \"q\"" k=v"#)
        #expect(line.value("init") == #"/bin/hello it's x\y "q""#)
        #expect(line.value("k") == "v")
    }

    @Test func laterWordWins() {
        #expect(KernelCommandLine("a=1 a=2").value("a") == "2")
    }

    @Test func emptyAndValuesWithEquals() {
        #expect(KernelCommandLine("").options.isEmpty)
        #expect(KernelCommandLine("k=a=b").value("k") == "a=b")
        #expect(KernelCommandLine("k=").value("k") == "")
    }
}

@Suite struct FormatTests {
    @Test func hexPadsAndPrefixes() {
        #expect(hex(0xABC) == "0x0000000000000abc")
        #expect(hex(0xABC, width: 1) == "0xabc")
        #expect(hex(UInt64.max) == "0xffffffffffffffff")
    }

    @Test func decimal() {
        var out: [UInt8] = []
        formatDecimal(18_446_744_073_709_551_615) { out.append($0) }
        #expect(String(decoding: out, as: UTF8.self) == "18446744073709551615")
        out = []
        formatDecimal(0) { out.append($0) }
        #expect(out == [UInt8(ascii: "0")])
    }

    @Test func sizes() {
        #expect(formatSize(512) == "512 B")
        #expect(formatSize(1536) == "1.5 KiB")
        #expect(formatSize(256 << 20) == "256 MiB")
    }
}
