// Host tests of the initial-stack builder (Kernel/Loader/InitialStack.swift):
// the image is decoded back word by word, exactly as a process's _start and
// libc would read it, for many argument shapes.
import Testing
@testable import KernelCore

/// Reads an InitialStackImage through virtual addresses.
struct StackReader {
    let image: InitialStackImage

    /// The 64-bit word at virtual `address` (must lie inside the image).
    func word(_ address: UInt64) -> UInt64 {
        let offset = Int(address - image.stackPointer)
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(image.bytes[offset + i]) << UInt64(8 * i) }
        return value
    }

    /// The NUL-terminated string at virtual `address`.
    func string(_ address: UInt64) -> [UInt8] {
        var offset = Int(address - image.stackPointer)
        var result: [UInt8] = []
        while image.bytes[offset] != 0 { result.append(image.bytes[offset]); offset += 1 }
        return result
    }

    func contains(_ address: UInt64) -> Bool { address >= image.stackPointer && address < image.stackTop }

    /// argv, envp and auxv pairs decoded from RSP upwards.
    func decode() -> (argv: [[UInt8]], envp: [[UInt8]], auxv: [(UInt64, UInt64)]) {
        var cursor = image.stackPointer
        let argc = Int(word(cursor)); cursor += 8
        var argv: [[UInt8]] = []
        for _ in 0..<argc { argv.append(string(word(cursor))); cursor += 8 }
        #expect(word(cursor) == 0, "argv[argc] is NULL"); cursor += 8
        var envp: [[UInt8]] = []
        while word(cursor) != 0 { envp.append(string(word(cursor))); cursor += 8 }
        cursor += 8
        var auxv: [(UInt64, UInt64)] = []
        while true {
            let pair = (word(cursor), word(cursor + 8)); cursor += 16
            auxv.append(pair)
            if pair.0 == 0 { break }
        }
        return (argv, envp, auxv)
    }
}

let sampleAuxv = InitialStackAuxv(programHeaderAddress: 0x40_0040, programHeaderEntrySize: 56, programHeaderCount: 4,
                                  entry: 0x40_1000, random: (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210))
let sampleTop: UInt64 = 0x7f7f_ffff_f000

/// Builds, or records the error and returns nil.
func buildStack(_ argv: [[UInt8]], _ envp: [[UInt8]], top: UInt64 = sampleTop, limit: Int = InitialStack.defaultLimit) -> InitialStackImage? {
    do throws(InitialStackError) {
        return try InitialStack.build(arguments: argv, environment: envp, auxv: sampleAuxv, stackTop: top, limit: limit)
    } catch {
        Issue.record("build failed: \(error.description)")
        return nil
    }
}

/// The error building gives, or nil.
func stackError(_ argv: [[UInt8]], _ envp: [[UInt8]], top: UInt64 = sampleTop, limit: Int = InitialStack.defaultLimit) -> InitialStackError? {
    do throws(InitialStackError) {
        _ = try InitialStack.build(arguments: argv, environment: envp, auxv: sampleAuxv, stackTop: top, limit: limit)
        return nil
    } catch { return error }
}

@Suite struct InitialStackTests {
    let argv = ["/bin/hello", "alpha", "beta gamma"].map { Array($0.utf8) }
    let envp = ["PATH=/bin", "USER_TEST_ENV=yes"].map { Array($0.utf8) }

    @Test func layoutDecodesBackToTheInputs() throws {
        let image = try #require(buildStack(argv, envp))
        let reader = StackReader(image: image)
        let decoded = reader.decode()
        #expect(decoded.argv == argv)
        #expect(decoded.envp == envp)
        #expect(image.argvAddress == image.stackPointer + 8)
        #expect(image.envpAddress == image.argvAddress + UInt64(8 * (argv.count + 1)))
        #expect(image.auxvAddress == image.envpAddress + UInt64(8 * (envp.count + 1)))
    }

    @Test func auxvHasTheRequiredEntriesInOrder() throws {
        let image = try #require(buildStack(argv, envp))
        let auxv = StackReader(image: image).decode().auxv
        #expect(auxv.map(\.0) == [3, 4, 5, 6, 9, 25, 0])
        #expect(auxv[0].1 == 0x40_0040)
        #expect(auxv[1].1 == 56)
        #expect(auxv[2].1 == 4)
        #expect(auxv[3].1 == 4096)
        #expect(auxv[4].1 == 0x40_1000)
        #expect(auxv[5].1 == image.randomAddress)
        #expect(auxv[6].1 == 0)
    }

    @Test func randomBytesAreInsideAndAligned() throws {
        let image = try #require(buildStack(argv, envp))
        let reader = StackReader(image: image)
        #expect(image.randomAddress % 16 == 0)
        #expect(reader.word(image.randomAddress) == sampleAuxv.random.0)
        #expect(reader.word(image.randomAddress + 8) == sampleAuxv.random.1)
        #expect(image.randomAddress > image.auxvAddress + 7 * 16 - 1, "above the auxv")
        #expect(image.randomAddress + 16 <= image.stackTop - 8)
    }

    @Test func everyPointerLiesInsideTheImageAndStringsSitAboveTheVectors() throws {
        let image = try #require(buildStack(argv, envp))
        let reader = StackReader(image: image)
        let auxvEnd = image.auxvAddress + 7 * 16
        for index in 0..<(argv.count + envp.count + 1) where index != argv.count {
            let slot = image.argvAddress + UInt64(8 * index)
            let pointer = reader.word(slot)
            #expect(reader.contains(pointer))
            #expect(pointer >= image.randomAddress + 16, "strings above the random bytes")
            #expect(pointer > auxvEnd)
        }
        #expect(reader.word(image.stackTop - 8) == 0, "zero word at the very top")
    }

    @Test func stackPointerIsAlignedForEveryShape() throws {
        for argc in 0...5 {
            for length in 0...33 {
                for envc in 0...2 {
                    let args = (0..<argc).map { [UInt8](repeating: UInt8(ascii: "a") + UInt8($0), count: length) }
                    let env = (0..<envc).map { _ in [UInt8](repeating: UInt8(ascii: "E"), count: length + 1) }
                    for top in [sampleTop, sampleTop - 8, sampleTop - 3] {
                        let image = try #require(buildStack(args, env, top: top))
                        #expect(image.stackPointer % 16 == 0)
                        #expect(image.bytes.count == Int(image.stackTop - image.stackPointer))
                        #expect(image.stackTop == top)
                        let decoded = StackReader(image: image).decode()
                        #expect(decoded.argv == args && decoded.envp == env)
                    }
                }
            }
        }
    }

    @Test func emptyArgumentsAndEnvironment() throws {
        let image = try #require(buildStack([], []))
        let reader = StackReader(image: image)
        #expect(reader.word(image.stackPointer) == 0, "argc 0")
        #expect(reader.word(image.stackPointer + 8) == 0, "argv NULL")
        #expect(reader.word(image.stackPointer + 16) == 0, "envp NULL")
        #expect(reader.word(image.stackPointer + 24) == 3, "AT_PHDR first")
        #expect(image.stackPointer % 16 == 0)
    }

    @Test func stringOverloadMatchesBytes() throws {
        let fromStrings = try InitialStack.build(arguments: ["/bin/hello", "alpha", "beta gamma"],
                                                 environment: ["PATH=/bin", "USER_TEST_ENV=yes"],
                                                 auxv: sampleAuxv, stackTop: sampleTop)
        let fromBytes = try #require(buildStack(argv, envp))
        #expect(fromStrings.bytes == fromBytes.bytes)
        #expect(fromStrings.stackPointer == fromBytes.stackPointer)
    }

    @Test func auxvFromParsedImage() throws {
        let image = ELF64Image(entry: 0x40_1000, segments: [], programHeaderOffset: 64, programHeaderEntrySize: 56,
                               programHeaderCount: 4, programHeaderAddress: 0x40_0040)
        let auxv = InitialStackAuxv(image: image, random: (1, 2))
        #expect(auxv == InitialStackAuxv(programHeaderAddress: 0x40_0040, programHeaderEntrySize: 56,
                                         programHeaderCount: 4, pageSize: 4096, entry: 0x40_1000, random: (1, 2)))
    }

    @Test func rejectsNULInsideAString() {
        #expect(stackError([Array("a\0b".utf8)], []) == .stringContainsNUL)
        #expect(stackError([], [[0x41, 0]]) == .stringContainsNUL)
    }

    @Test func rejectsImagesOverTheLimit() {
        let huge = [[UInt8](repeating: 0x41, count: 5000)]
        if case .tooLarge(_, let limit)? = stackError(huge, [], limit: 4096) {
            #expect(limit == 4096)
        } else {
            Issue.record("expected tooLarge")
        }
        // Just under: strings fit but the pointer block pushes it over.
        let many = (0..<200).map { _ in [UInt8](repeating: 0x42, count: 10) }
        if case .tooLarge? = stackError(many, [], limit: 200 * 11 + 64) {} else { Issue.record("expected tooLarge for pointers") }
        #expect(buildStack(many, []) != nil)
    }

    @Test func rejectsStackTopTooLow() {
        #expect(stackError(argv, envp, top: 0x100) == .stackTopTooLow)
        #expect(stackError([], [], top: 0) == .stackTopTooLow)
    }

    @Test func errorsHaveDescriptions() {
        for error in [InitialStackError.tooLarge(size: 1, limit: 0), .stringContainsNUL, .stackTopTooLow] {
            #expect(error.description.utf8CodeUnitCount > 10)
        }
    }

    /// The flat form execve builds (ExecArguments) gives the same image
    /// as string arrays, and refuses a string with a NUL.
    @Test func flatStringsBuildTheSameImage() throws {
        let strings = try #require(ExecArguments(arguments: argv, environment: envp))
        #expect(strings.argumentCount == argv.count && strings.environmentCount == envp.count)
        let flat = try InitialStack.build(strings: strings, auxv: sampleAuxv, stackTop: sampleTop)
        let arrays = try InitialStack.build(arguments: argv, environment: envp, auxv: sampleAuxv, stackTop: sampleTop)
        #expect(flat.bytes == arrays.bytes && flat.stackPointer == arrays.stackPointer)
        #expect(ExecArguments(arguments: [[0x61, 0, 0x62]], environment: []) == nil)
        var adopted = ExecArguments()
        adopted.adoptArguments([0x61, 0, 0], count: 2)   // "a" and ""
        let image = try InitialStack.build(strings: adopted, auxv: sampleAuxv, stackTop: sampleTop)
        #expect(image.bytes[0] == 2, "argc")
    }
}
