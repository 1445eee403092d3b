// Host tests of loading an ELF executable into a user address space
// (Kernel/Loader/ProgramLoader.swift) on the fake MMU: segments become
// private file mappings of the executable (its page cache), the bss
// anonymous, the partial page where file data meets bss a zeroed private
// copy; two processes running one program share its text frames.
import Testing
@testable import KernelCore
import FakeMMU

@Suite struct ProgramLoaderTests {
    /// The byte the file holds after the data segment's file part, inside
    /// its last page: the process must see bss zeros there instead.
    static let pastData: UInt8 = 0xEE

    /// ELFBuilder.typical() with recognisable bytes in each segment's file range.
    func program() -> TestFile {
        var bytes = ELFBuilder.typical().bytes()
        for i in 0x1000..<0x1800 { bytes[i] = 0xC3 }           // text
        for i in 0x2000..<0x2010 { bytes[i] = 0xDA }           // data; bss follows
        for i in 0x2010..<0x2100 { bytes[i] = Self.pastData }   // not the segment's: bss there
        return TestFile(bytes)
    }

    func load(_ space: inout TestSpace, _ machine: PagingMachine, _ file: FileContents,
              arguments: [String] = ["/bin/t", "x"]) throws -> LoadedProgram {
        let image = try ELF64.parse(file.bytes)
        return try space.loadProgram(file, image: image, arguments: arguments.map { Array($0.utf8) },
                                     environment: [Array("A=1".utf8)], random: (1, 2), tlb: machine.mmu)
    }

    func load(_ space: inout TestSpace, _ machine: PagingMachine, arguments: [String] = ["/bin/t", "x"],
              _ bytes: TestFile) throws -> LoadedProgram {
        try load(&space, machine, FileContents(bytes: bytes.bytes, frames: machine.frames), arguments: arguments)
    }

    func byte(_ space: inout TestSpace, _ address: UInt64, _ machine: PagingMachine) throws -> UInt8 {
        var value: UInt8 = 0
        try withUnsafeMutableBytes(of: &value) { try space.read(into: $0, at: VirtualAddress(address), tlb: machine.mmu) }
        return value
    }

    @Test func segmentsGetTheirBytesPermissionsAndZeroedBss() throws {
        let file = program()
        try withSpace { space, _, machine in
            let loaded = try load(&space, machine, file)
            #expect(loaded.entry == 0x40_1000)
            let text = try byte(&space, 0x40_1000, machine)
            #expect(text == 0xC3)
            let data = try byte(&space, 0x40_2000, machine)
            #expect(data == 0xDA)
            let bss = try byte(&space, 0x40_2010, machine)
            #expect(bss == 0, "bss is zero, not the file's byte there (padzero)")
            let lastInPage = try byte(&space, 0x40_2fff, machine)
            #expect(lastInPage == 0, "the whole tail of the last file page is zeroed")
            let lastBss = try byte(&space, 0x48_3fff, machine)
            #expect(lastBss == 0, "last bss page mapped and zero")
            #expect(space.breakStart.raw == 0x48_4000, "break starts above the highest segment")
            let protections = space.regions.filter { $0.kind == .image }.map(\.protection)
            #expect(protections == [[.read], [.read, .execute], [.read, .write], [.read, .write]],
                    "the data segment is a file part and a bss part")
        }
    }

    /// The regions Linux's elf_load makes: each segment's file pages a
    /// private file mapping at its file page, the bss past them anonymous;
    /// nothing copied at exec except the page padzero writes.
    @Test func segmentsArePrivateFileMappingsAndBssIsAnonymous() throws {
        let file = program()
        try withSpace { space, _, machine in
            _ = try load(&space, machine, file)
            let images = space.regions.filter { $0.kind == .image }
            #expect(images.map(\.range) == [VirtualAddress(0x40_0000)..<VirtualAddress(0x40_1000),
                                            VirtualAddress(0x40_1000)..<VirtualAddress(0x40_2000),
                                            VirtualAddress(0x40_2000)..<VirtualAddress(0x40_3000),
                                            VirtualAddress(0x40_3000)..<VirtualAddress(0x48_4000)])
            #expect(images.map(\.backing.name.description) == ["file", "file", "file", "anonymous"])
            #expect(images.prefix(3).map(\.pageOffset) == [0, 1, 2], "each at its file page")
            #expect(images.allSatisfy { $0.mayProtection == .all }, "a private mapping may become anything")
            // Resident after exec: the padzero page (a private copy) and the stack's.
            #expect(space.residentPages == 2)
            let padded = space.frame(at: 0x40_2000)
            #expect(padded.map { machine.frames.flags(of: PhysicalAddress($0)).contains(.anonExclusive) } == true)
            checkInvariants(machine, "after exec") { checker throws(VMInvariantViolation) in try checker.add(space) }
        }
    }

    /// Two processes running one program map the same text frame, the
    /// file's page-cache frame; neither copy of the data page touches it.
    @Test func twoProcessesShareTheTextFramesOfOneProgram() throws {
        let bytes = program()
        try withSpace { space, kernel, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            _ = try load(&space, machine, file)
            try withSecondSpace(kernel, machine) { other in
                _ = try load(&other, machine, file)
                #expect(space.userExecute(machine, 0x40_1000) && other.userExecute(machine, 0x40_1000))
                #expect(space.userLoad(machine, 0x40_0000) != nil && other.userLoad(machine, 0x40_0000) != nil)
                for address: UInt64 in [0x40_0000, 0x40_1000] {
                    let found = space.frame(at: address)
                    let frame = try #require(found)
                    #expect(other.frame(at: address) == frame, "one frame for both processes")
                    #expect(file.pages[(address - 0x40_0000) / pageSize]?.raw == frame, "the page cache's frame")
                    #expect(machine.frames.referenceCount(of: PhysicalAddress(frame)) == 3, "the cache and two leaves")
                }
                let data = (space.frame(at: 0x40_2000), other.frame(at: 0x40_2000))
                #expect(data.0 != data.1, "data pages are private")
                #expect(file.pages[2] == nil, "padzero copied the data page from the file, caching nothing")
                // The file page under the data is still the file's: map it read-only.
                _ = try space.map(MapRequest(address: VirtualAddress(0x1000_0000), length: pageSize, protection: .read,
                                             fixed: true, backing: .privateFile(file), pageOffset: 2), tlb: machine.mmu)
                #expect(space.userLoad(machine, 0x1000_0010).map { UInt8(truncatingIfNeeded: $0) } == Self.pastData,
                        "the cache frame was never written")
                checkInvariants(machine, "two processes") { checker throws(VMInvariantViolation) in
                    try checker.add(space)
                    try checker.add(other)
                }
            }
        }
    }

    /// A segment whose file offset and address differ modulo the page size
    /// (not from ELF64.parse, which refuses it as Linux's mmap would) is
    /// copied into anonymous memory.
    @Test func incongruentSegmentIsCopied() throws {
        let file = program()
        try withSpace { space, _, machine in
            let contents = FileContents(bytes: file.bytes, frames: machine.frames)
            var image = try ELF64.parse(file.bytes)
            image.segments = [ELF64Segment(virtualAddress: 0x40_1010, memorySize: 0x100, fileSize: 0x10,
                                           fileOffset: 0x1000, permissions: [.read, .execute])]
            image.entry = 0x40_1010
            _ = try space.loadProgram(contents, image: image, arguments: [Array("t".utf8)], environment: [],
                                      random: (1, 2), tlb: machine.mmu)
            let first = space.regions.first
            let image0 = try #require(first)
            #expect(image0.backing.name.description == "anonymous" && image0.kind == .image)
            #expect(try byte(&space, 0x40_1010, machine) == 0xC3)
            #expect(try byte(&space, 0x40_1000, machine) == 0, "before the segment: zero")
            #expect(try byte(&space, 0x40_1020, machine) == 0, "past its file bytes: zero")
            #expect(contents.pages.isEmpty)
        }
    }

    @Test func stackHoldsArgcArgvAndSitsBelowTheTopWithAGuard() throws {
        try withSpace { space, _, machine in
            let loaded = try load(&space, machine, program())
            #expect(loaded.stackPointer % 16 == 0)
            let argc = try byte(&space, loaded.stackPointer, machine)
            #expect(argc == 2, "argc")
            let stack = space.regions.first { $0.kind == .stack }
            #expect(stack?.range == UserMemoryLayout.stackRange)
            let guardPage = VirtualAddress(UserMemoryLayout.stackRange.lowerBound.raw - pageSize)
                ..< UserMemoryLayout.stackRange.lowerBound
            let guardIsFree = space.isFree(guardPage)
            #expect(guardIsFree, "guard page below the stack")
        }
    }

    @Test func hugeArgumentsAreRefused() throws {
        try withSpace { space, _, machine in
            let big = String(repeating: "a", count: InitialStackLayout.maximumImage)
            let file = program()
            #expect(throws: ProgramLoadError.argumentsTooLarge) { try load(&space, machine, arguments: ["/bin/t", big], file) }
        }
    }

    /// Linux setup_arg_pages: the stack holds the arguments' pages plus
    /// 128 KiB (stack_expand), so execve's 2 MiB of strings fit.
    @Test func largeArgumentsGrowTheStackRegion() throws {
        try withSpace { space, _, machine in
            let big = String(repeating: "b", count: 1 << 20)
            let loaded = try load(&space, machine, arguments: ["/bin/t", big], program())
            let stack = space.regions.first { $0.kind == .stack }
            let top = UserMemoryLayout.stackTop.raw
            let imagePages = (top - loaded.stackPointer + pageSize - 1) / pageSize * pageSize
            #expect(stack?.range == VirtualAddress(top - imagePages - InitialStackLayout.expansion) ..< VirtualAddress(top))
            #expect(InitialStackLayout.regionSize(forImage: 100) == UserMemoryLayout.stackSize, "small: the fixed size")
            let argc = try byte(&space, loaded.stackPointer, machine)
            #expect(argc == 2)
        }
    }
}
