// Host tests of loading an ELF executable into a user address space
// (Kernel/Loader/ProgramLoader.swift) on the fake MMU.
import Testing
@testable import KernelCore
import FakeMMU

@Suite struct ProgramLoaderTests {
    /// ELFBuilder.typical() with recognisable bytes in each segment's file range.
    func program() -> [UInt8] {
        var bytes = ELFBuilder.typical().bytes()
        for i in 0x1000..<0x1800 { bytes[i] = 0xC3 }           // text
        for i in 0x2000..<0x2010 { bytes[i] = 0xDA }           // data; bss follows
        return bytes
    }

    func load(_ space: inout TestSpace, _ machine: PagingMachine, arguments: [String] = ["/bin/t", "x"])
        throws -> LoadedProgram {
        let bytes = program()
        return try bytes.withUnsafeBytes { file in
            let image = try ELF64.parse(file)
            return try space.loadProgram(file, image: image, arguments: arguments.map { Array($0.utf8) },
                                         environment: [Array("A=1".utf8)], random: (1, 2), tlb: machine.mmu)
        }
    }

    func byte(_ space: inout TestSpace, _ address: UInt64, _ machine: PagingMachine) throws -> UInt8 {
        var value: UInt8 = 0
        try withUnsafeMutableBytes(of: &value) { try space.read(into: $0, at: VirtualAddress(address), tlb: machine.mmu) }
        return value
    }

    @Test func segmentsGetTheirBytesPermissionsAndZeroedBss() throws {
        try withSpace { space, _, machine in
            let loaded = try load(&space, machine)
            #expect(loaded.entry == 0x40_1000)
            let text = try byte(&space, 0x40_1000, machine)
            #expect(text == 0xC3)
            let data = try byte(&space, 0x40_2000, machine)
            #expect(data == 0xDA)
            let bss = try byte(&space, 0x40_2010, machine)
            #expect(bss == 0, "bss is zero")
            let lastBss = try byte(&space, 0x48_3fff, machine)
            #expect(lastBss == 0, "last bss page mapped and zero")
            #expect(space.breakStart.raw == 0x48_4000, "break starts above the highest segment")
            let protections = space.regions.filter { $0.kind == .image }.map(\.protection)
            #expect(protections == [[.read], [.read, .execute], [.read, .write]])
        }
    }

    @Test func stackHoldsArgcArgvAndSitsBelowTheTopWithAGuard() throws {
        try withSpace { space, _, machine in
            let loaded = try load(&space, machine)
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
            #expect(throws: ProgramLoadError.argumentsTooLarge) { try load(&space, machine, arguments: ["/bin/t", big]) }
        }
    }

    /// Linux setup_arg_pages: the stack holds the arguments' pages plus
    /// 128 KiB (stack_expand), so execve's 2 MiB of strings fit.
    @Test func largeArgumentsGrowTheStackRegion() throws {
        try withSpace { space, _, machine in
            let big = String(repeating: "b", count: 1 << 20)
            let loaded = try load(&space, machine, arguments: ["/bin/t", big])
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
