// Host tests of the program break (brk) of the user address space.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceBreakTests {
    static let imageEnd: UInt64 = 0x40_2345
    static let heapStart: UInt64 = 0x40_3000

    @Test func initialBreakIsThePageAfterTheImage() throws {
        try withSpace { space, _, machine in
            #expect(space.setBreak(VirtualAddress(0x50_0000), tlb: machine.mmu).raw == 0, "refused before it is set")
            #expect(space.regions.isEmpty)
            space.setInitialBreak(VirtualAddress(0))
            #expect(space.breakStart.raw == 0 && space.breakEnd.raw == 0, "an image end outside user space")
            #expect(space.setBreak(VirtualAddress(0x50_0000), tlb: machine.mmu).raw == 0)
            #expect(space.regions.isEmpty)
            space.setInitialBreak(VirtualAddress(Self.imageEnd))
            #expect(space.breakStart.raw == Self.heapStart && space.breakEnd.raw == Self.heapStart)
            #expect(space.setBreak(VirtualAddress(0), tlb: machine.mmu).raw == Self.heapStart, "brk(0) queries")
        }
    }

    @Test func growShrinkAndRegrowGivesZeroedPages() throws {
        try withSpace { space, _, machine in
            space.setInitialBreak(VirtualAddress(Self.imageEnd))
            let grown = space.setBreak(VirtualAddress(Self.heapStart + 2 * pageSize + 10), tlb: machine.mmu)
            #expect(grown.raw == Self.heapStart + 2 * pageSize + 10, "the break need not be page aligned")
            #expect(space.regionShapes == [region(Self.heapStart, pages: 3, .readWrite, .heap)])
            #expect(space.residentPages == 0, "changed on purpose (issue [4]): brk populates nothing")
            for index in 0..<3 as Range<UInt64> {
                #expect(space.userLoad(machine, Self.heapStart + index * pageSize) == 0)
                #expect(space.userStore(machine, 0xEE, at: Self.heapStart + index * pageSize) == true)
            }
            // Growing within the last page maps nothing new.
            _ = space.setBreak(VirtualAddress(Self.heapStart + 3 * pageSize), tlb: machine.mmu)
            #expect(space.residentPages == 3)
            #expect(space.regionShapes == [region(Self.heapStart, pages: 3, .readWrite, .heap)])

            let shrunk = space.setBreak(VirtualAddress(Self.heapStart + pageSize - 1), tlb: machine.mmu)
            #expect(shrunk.raw == Self.heapStart + pageSize - 1)
            #expect(space.regionShapes == [region(Self.heapStart, pages: 1, .readWrite, .heap)])
            #expect(space.residentPages == 1 && machine.userFrames == 1)
            #expect(machine.mmu.access(VirtualAddress(Self.heapStart + pageSize), .read, .user) == notPresentUserRead)

            _ = space.setBreak(VirtualAddress(Self.heapStart + 3 * pageSize), tlb: machine.mmu)
            #expect(space.regionShapes == [region(Self.heapStart, pages: 3, .readWrite, .heap)], "merged into one heap")
            #expect(space.userLoad(machine, Self.heapStart) == 0xEE, "the kept page kept its contents")
            #expect(space.userLoad(machine, Self.heapStart + pageSize) == 0, "re-grown pages are zero")
            #expect(space.userLoad(machine, Self.heapStart + 2 * pageSize) == 0)

            _ = space.setBreak(VirtualAddress(Self.heapStart), tlb: machine.mmu)
            #expect(space.regions.isEmpty && space.residentPages == 0)
        }
    }

    @Test func refusalsReturnTheCurrentBreakAndChangeNothing() throws {
        try withSpace { space, _, machine in
            space.setInitialBreak(VirtualAddress(Self.imageEnd))
            let current = space.setBreak(VirtualAddress(Self.heapStart + pageSize), tlb: machine.mmu)
            try space.mapFixed(Self.heapStart + 4 * pageSize, pages: 1, .read, tlb: machine.mmu)
            let regions = space.regions

            #expect(space.setBreak(VirtualAddress(Self.heapStart - 1), tlb: machine.mmu) == current, "below the start")
            #expect(space.setBreak(VirtualAddress(Self.heapStart + 5 * pageSize), tlb: machine.mmu) == current,
                    "into another region")
            #expect(space.setBreak(VirtualAddress(TestSpace.userEnd.raw + 1), tlb: machine.mmu) == current)
            #expect(space.setBreak(VirtualAddress(UInt64.max), tlb: machine.mmu) == current)
            // Changed on purpose (issue [4]): brk allocates nothing, so it has
            // no out-of-memory refusal any more (the first touch may fail instead).
            #expect(space.regions == regions)
            #expect(space.breakEnd == current)
            #expect(space.residentPages == 0 && machine.userFrames == 0)
            machine.frames.failAllAllocations = true
            #expect(space.setBreak(VirtualAddress(Self.heapStart + 3 * pageSize), tlb: machine.mmu).raw
                    == Self.heapStart + 3 * pageSize, "growing needs no memory")
            #expect(space.userAccess(Self.heapStart + 2 * pageSize, .write, machine) == .fault(.outOfMemory))
            machine.frames.failAllAllocations = false
            // Growing right up to the other region is refused: Linux keeps
            // one free page before it (found by User/Tests/bad_pointers).
            #expect(space.setBreak(VirtualAddress(Self.heapStart + 4 * pageSize), tlb: machine.mmu).raw
                    == Self.heapStart + 3 * pageSize)
            #expect(space.setBreak(VirtualAddress(Self.heapStart + 3 * pageSize + 1), tlb: machine.mmu).raw
                    == Self.heapStart + 3 * pageSize, "the last page before the region is the gap")
        }
    }
}
