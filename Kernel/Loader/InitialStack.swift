// The initial stack of a new process, as Linux x86-64 lays it out (System V
// x86-64 ABI 3.4.1, Linux fs/binfmt_elf.c create_elf_tables).
//
// Design: a pure computation from (argv, envp, auxv values, stack top) to
// the bytes to copy just below the stack top plus the initial RSP, so the
// layout is tested on the host byte by byte and the kernel only copies.
// From the initial RSP upwards:
//
//   RSP ->  argc
//           argv[0] ... argv[argc-1], NULL
//           envp[0] ... envp[envc-1], NULL
//           auxv: (AT_PHDR, v) (AT_PHENT, v) (AT_PHNUM, v) (AT_PAGESZ, v)
//                 (AT_ENTRY, v) (AT_RANDOM, &random) (AT_NULL, 0)
//           zero padding up to 16 bytes
//           16 random bytes (16-byte aligned; AT_RANDOM points here)
//           argv strings, then envp strings, each NUL-terminated
//           zero padding, then 8 zero bytes ending exactly at the stack top
//
// RSP is 16-byte aligned: at process entry (no return address pushed) the
// ABI requires RSP % 16 == 0. The pointer block is sized first and the
// whole image shifted down so that both the strings area and RSP align.

/// Why an initial stack could not be built.
public enum InitialStackError: Error, Equatable {
    /// The image would need `size` bytes; at most `limit` are allowed.
    case tooLarge(size: Int, limit: Int)
    /// An argument or environment string contains a NUL byte.
    case stringContainsNUL
    /// The stack top is too low to hold the image.
    case stackTopTooLow

    /// A readable explanation.
    public var description: StaticString {
        switch self {
        case .tooLarge: return "arguments and environment exceed the initial stack limit"
        case .stringContainsNUL: return "argument or environment string contains a NUL byte"
        case .stackTopTooLow: return "stack top too low for the initial stack"
        }
    }
}

/// The auxiliary vector values the loader supplies. AT_RANDOM's value is
/// not here: it is the address where `random` lands in the image.
public struct InitialStackAuxv: Equatable, Sendable {
    public var programHeaderAddress: UInt64   // AT_PHDR
    public var programHeaderEntrySize: UInt64 // AT_PHENT
    public var programHeaderCount: UInt64     // AT_PHNUM
    public var pageSize: UInt64               // AT_PAGESZ
    public var entry: UInt64                  // AT_ENTRY
    public var random: (UInt64, UInt64)       // the 16 bytes AT_RANDOM points at

    public init(programHeaderAddress: UInt64, programHeaderEntrySize: UInt64, programHeaderCount: UInt64,
                pageSize: UInt64 = 4096, entry: UInt64, random: (UInt64, UInt64)) {
        self.programHeaderAddress = programHeaderAddress
        self.programHeaderEntrySize = programHeaderEntrySize
        self.programHeaderCount = programHeaderCount
        self.pageSize = pageSize
        self.entry = entry
        self.random = random
    }

    /// The values for an executable parsed by ELF64.parse (AT_PHDR is 0
    /// when no segment maps the program headers).
    public init(image: ELF64Image, pageSize: UInt64 = 4096, random: (UInt64, UInt64)) {
        self.init(programHeaderAddress: image.programHeaderAddress ?? 0,
                  programHeaderEntrySize: UInt64(image.programHeaderEntrySize),
                  programHeaderCount: UInt64(image.programHeaderCount),
                  pageSize: pageSize, entry: image.entry, random: random)
    }

    public static func == (a: InitialStackAuxv, b: InitialStackAuxv) -> Bool {
        a.programHeaderAddress == b.programHeaderAddress && a.programHeaderEntrySize == b.programHeaderEntrySize
            && a.programHeaderCount == b.programHeaderCount && a.pageSize == b.pageSize && a.entry == b.entry
            && a.random == b.random
    }
}

/// The built stack: copy `bytes` to [stackPointer, stackTop) and start the
/// process with RSP = stackPointer.
public struct InitialStackImage: Sendable {
    public var bytes: [UInt8]
    public var stackPointer: UInt64
    public var stackTop: UInt64
    /// Addresses inside the image, for the kernel's own checks and tests.
    public var argvAddress: UInt64
    public var envpAddress: UInt64
    public var auxvAddress: UInt64
    public var randomAddress: UInt64
}

/// The builder (a namespace).
public enum InitialStack {
    /// Auxiliary vector keys (include/uapi/linux/auxvec.h).
    public enum Key {
        public static let null: UInt64 = 0
        public static let phdr: UInt64 = 3
        public static let phent: UInt64 = 4
        public static let phnum: UInt64 = 5
        public static let pagesz: UInt64 = 6
        public static let entry: UInt64 = 9
        public static let random: UInt64 = 25
    }

    /// Default cap on the image: 32 pages, far above what our programs pass.
    public static let defaultLimit = 32 * 4096
    static let stackAlignment: UInt64 = 16
    static let wordSize = 8
    static let randomByteCount = 16
    static let topGuardBytes = 8          // the zero word at the very top
    static let auxvPairCount = 7          // six entries + AT_NULL

    /// Builds the image for `arguments` and `environment` (strings without
    /// their NUL) below `stackTop`: `build(strings:)` after checking that
    /// no string holds a NUL.
    public static func build(arguments: [[UInt8]], environment: [[UInt8]], auxv: InitialStackAuxv,
                             stackTop: UInt64, limit: Int = defaultLimit) throws(InitialStackError) -> InitialStackImage {
        guard let strings = ExecArguments(arguments: arguments, environment: environment) else {
            throw .stringContainsNUL
        }
        return try build(strings: strings, auxv: auxv, stackTop: stackTop, limit: limit)
    }

    /// Builds the image for `strings` below `stackTop`. Contract: the
    /// returned stackPointer is 16-byte aligned, the image ends exactly at
    /// stackTop, every pointer in it is an address inside [stackPointer,
    /// stackTop), and the image is at most `limit` bytes.
    public static func build(strings: borrowing ExecArguments, auxv: InitialStackAuxv,
                             stackTop: UInt64, limit: Int = defaultLimit) throws(InitialStackError) -> InitialStackImage {
        let stringBytes = strings.stringBytes
        if stringBytes > limit { throw .tooLarge(size: stringBytes, limit: limit) }
        let pointerWords = 1 + (strings.argumentCount + 1) + (strings.environmentCount + 1) + 2 * auxvPairCount
        let pointerBytes = pointerWords * wordSize
        // Random bytes (16-aligned) then strings, all below the guard word;
        // at most two alignment gaps of < 16 bytes come on top.
        let infoSize = UInt64(randomByteCount + stringBytes + topGuardBytes)
        let worstCase = Int(infoSize) + pointerBytes + 2 * Int(stackAlignment)
        guard Int(infoSize) + pointerBytes <= limit else {
            throw .tooLarge(size: Int(infoSize) + pointerBytes, limit: limit)
        }
        guard stackTop >= UInt64(worstCase) else { throw .stackTopTooLow }
        let randomAddress = (stackTop - infoSize) & ~(stackAlignment - 1)
        let stackPointer = (randomAddress - UInt64(pointerBytes)) & ~(stackAlignment - 1)
        let size = Int(stackTop - stackPointer)
        guard size <= limit else { throw .tooLarge(size: size, limit: limit) }

        var image = [UInt8](repeating: 0, count: size)
        func put(_ value: UInt64, at address: UInt64) {
            let offset = Int(address - stackPointer)
            for i in 0..<wordSize { image[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
        }
        put(auxv.random.0, at: randomAddress)
        put(auxv.random.1, at: randomAddress + UInt64(wordSize))

        // The strings, argv's then envp's, in one block after the random bytes.
        let stringsAddress = randomAddress + UInt64(randomByteCount)
        let stringsOffset = Int(stringsAddress - stackPointer)
        image.withUnsafeMutableBytes { destination in
            strings.argumentBytes.withUnsafeBytes { source in
                // SAFETY: [stringsOffset, + argumentBytes.count) lies inside the image (sized above).
                destination.baseAddress!.advanced(by: stringsOffset).copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
            strings.environmentBytes.withUnsafeBytes { source in
                // SAFETY: the envp strings follow argv's, still inside the image.
                destination.baseAddress!.advanced(by: stringsOffset + strings.argumentBytes.count)
                    .copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
        }

        var cursor = stackPointer
        func push(_ value: UInt64) { put(value, at: cursor); cursor += UInt64(wordSize) }
        // One pointer per string: its first byte, found by walking the NULs.
        func pushPointers(_ bytes: [UInt8], count: Int, base: UInt64) {
            var start = 0
            for _ in 0..<count {
                push(base + UInt64(start))
                while bytes[start] != 0 { start += 1 }
                start += 1
            }
        }

        push(UInt64(strings.argumentCount))
        let argvAddress = cursor
        pushPointers(strings.argumentBytes, count: strings.argumentCount, base: stringsAddress)
        push(0)
        let envpAddress = cursor
        pushPointers(strings.environmentBytes, count: strings.environmentCount,
                     base: stringsAddress + UInt64(strings.argumentBytes.count))
        push(0)
        let auxvAddress = cursor
        for (key, value) in [(Key.phdr, auxv.programHeaderAddress), (Key.phent, auxv.programHeaderEntrySize),
                             (Key.phnum, auxv.programHeaderCount), (Key.pagesz, auxv.pageSize),
                             (Key.entry, auxv.entry), (Key.random, randomAddress), (Key.null, 0)] {
            push(key); push(value)
        }
        return InitialStackImage(bytes: image, stackPointer: stackPointer, stackTop: stackTop,
                                 argvAddress: argvAddress, envpAddress: envpAddress,
                                 auxvAddress: auxvAddress, randomAddress: randomAddress)
    }

    /// The same for Swift strings (their UTF-8 bytes).
    public static func build(arguments: [String], environment: [String], auxv: InitialStackAuxv,
                             stackTop: UInt64, limit: Int = defaultLimit) throws(InitialStackError) -> InitialStackImage {
        try build(arguments: arguments.map { Array($0.utf8) }, environment: environment.map { Array($0.utf8) },
                  auxv: auxv, stackTop: stackTop, limit: limit)
    }
}
