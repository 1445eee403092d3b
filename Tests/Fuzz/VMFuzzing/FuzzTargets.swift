// The fuzz targets: an input's bytes decoded into operations.
//
// Byte 0 picks the target: the VM (most inputs), the ELF64 validator or
// the ustar parser with the archive file system over it. For the VM,
// each operation takes an opcode byte and the bytes it needs (process,
// first page, page count, protection, a value); a missing byte reads as
// 0, and at most `maximumOperations` run, so every input is bounded.
// libFuzzer (make fuzz-host) and the seeded runner (the fixed round in
// swift test) both call `FuzzTargets.run`.

import KernelCore
import FakeMMU

public enum FuzzTargets {
    public static let maximumOperations = 128
    nonisolated(unsafe) static var sharedMachine: FuzzMachine? = nil

    /// Operations run so far (for the runners' figures).
    nonisolated(unsafe) public private(set) static var operationsRun = 0

    /// Runs one input; nil when every check passed.
    public static func run(_ bytes: UnsafeRawBufferPointer) -> FuzzFailure? {
        var input = FuzzInput(bytes)
        switch input.byte() % 16 {
        case 0: return parseELF(input.rest)
        case 1: return parseUstar(input.rest)
        default: return runVM(&input)
        }
    }

    static func parseELF(_ bytes: UnsafeRawBufferPointer) -> FuzzFailure? {
        // Only a crash counts: every malformed file must be a thrown error.
        if let image = try? ELF64.parse(bytes) {
            for segment in image.segments where segment.fileSize > 0 {
                guard segment.fileOffset + segment.fileSize <= UInt64(bytes.count) else {
                    return FuzzFailure(description: "ELF64.parse accepted a segment past the end of the file")
                }
            }
        }
        return nil
    }

    static func parseUstar(_ bytes: UnsafeRawBufferPointer) -> FuzzFailure? {
        guard let archive = try? UstarArchive(bytes) else { return nil }
        let fileSystem = ArchiveFileSystem(archive: archive)
        for path in ["/", "/bin", "/bin/init", "bin/", "/a/b/../c", ""] {
            _ = fileSystem.lookup(Array(path.utf8))
            _ = fileSystem.list(Array(path.utf8))
        }
        for entry in archive.entries {
            let contents = archive.contents(of: entry)
            guard contents.count == 0 || (contents.baseAddress! >= bytes.baseAddress!
                  && contents.baseAddress! + contents.count <= bytes.baseAddress! + bytes.count) else {
                return FuzzFailure(description: "ustar entry \(entry.path) lies outside the archive")
            }
        }
        return nil
    }

    static let protections: [VMProtection] = [.noAccess, .read, .readWrite, .readExecute, .write, [.read, .write, .execute]]

    static func runVM(_ input: inout FuzzInput) -> FuzzFailure? {
        let machine = sharedMachine ?? FuzzMachine()
        sharedMachine = machine
        let world: FuzzWorld
        do throws(FuzzFailure) { world = try FuzzWorld(machine: machine) } catch { return error }
        do throws(FuzzFailure) {
            var operations = 0
            while !input.isEmpty && operations < maximumOperations {
                operations += 1
                let opcode = input.byte() % 12
                let p = Int(input.byte()) % world.processes.count
                let first = FuzzWorld.firstPage + UInt64(input.byte()) % (FuzzWorld.windowPages + 2)
                let pages = first..<first + 1 + UInt64(input.byte() % 8)
                let protection = protections[Int(input.byte()) % protections.count]
                switch opcode {
                case 0, 1: try world.mapPrivate(p, pages, protection)
                case 2: try world.mapShared(p, pages, protection)
                case 3: try world.mapHinted(p, pages, protection)
                case 4: try world.unmap(p, pages)
                case 5: try world.protect(p, pages, protection)
                case 6: try world.userWrite(p, first, input.word())
                case 7: try world.kernelWrite(p, first, input.word())
                case 8: try world.userRead(p, first, execute: protection == .readExecute)
                case 9: try world.fork(p)
                case 10:
                    if world.processes.count > 1 { world.exit(p) }
                default:
                    try world.setBreak(p, FuzzWorld.address(first) + UInt64(input.byte()) * 37)
                }
                try world.check(p)
            }
            operationsRun += operations
            try world.finish()
            return nil
        } catch {
            // Tear down without checks (a PageTable must not be dropped), and
            // give the next input a fresh machine.
            _ = try? world.finish()
            sharedMachine = nil
            return error
        }
    }
}

/// The input, read a byte at a time.
struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    var isEmpty: Bool { index >= bytes.count }
    /// The next byte, 0 past the end.
    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        index += 1
        return bytes[index - 1]
    }
    mutating func word() -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(byte()) }
        return value
    }
    var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[min(index, bytes.count)...]) }
}

/// The seeded runner: random inputs from a SplitMix64 seed (the fixed
/// round in swift test, and VMFuzz without libFuzzer).
public enum SeededFuzzRunner {
    /// Runs `count` random inputs of up to `maximumLength` bytes; returns
    /// the first failure with the input's number, or nil.
    public static func run(seed: UInt64, count: Int, maximumLength: Int = 600) -> (input: Int, failure: FuzzFailure)? {
        var random = SplitMix64(seed: seed)
        for number in 0..<count {
            let length = Int(random.next() % UInt64(maximumLength + 1))
            var bytes = [UInt8](repeating: 0, count: length)
            for i in 0..<length { bytes[i] = UInt8(truncatingIfNeeded: random.next()) }
            if let failure = bytes.withUnsafeBytes({ FuzzTargets.run($0) }) { return (number, failure) }
        }
        return nil
    }
}
