// Host tests of mremap (Kernel/VM/UserAddressSpace+Remap.swift and the
// page-table move, Kernel/Arch/x86_64/Paging/PageTableTree+Move.swift):
// every form, every errno in Linux's order, pages moved without copying
// (the same frame numbers at the new address, contents kept, no frame
// allocated), copy-on-write after fork on either side, the reverse map and
// the VMInvariantChecker after each step, whole page tables moved, no
// empty page-table page left behind, and allocation failures changing
// nothing; RLIMIT_AS/RLIMIT_DATA on growth, and parked PROT_NONE pages
// moving with their frames. `withSpace` adds the leak check and the TLB model's stale-entry
// check at the end of each test; pages are touched before they move, so a
// missing flush of the old range would be used from the warm TLB.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceRemapTests {
    static let base: UInt64 = 0x4000_0000
    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }
    static let mayMove: RemapOptions = .mayMove
    static let fixed: RemapOptions = [.mayMove, .fixed]
    static let dontUnmap: RemapOptions = [.mayMove, .dontUnmap]

    /// mremap(old, oldPages, newPages, options, new) in pages.
    static func remap(_ space: inout TestSpace, _ machine: PagingMachine, _ old: UInt64, _ oldPages: UInt64,
                      _ newPages: UInt64, _ options: RemapOptions = [], to new: UInt64 = 0) throws(VMError) -> UInt64 {
        try space.remap(RemapRequest(oldAddress: VirtualAddress(old), oldLength: oldPages * pageSize,
                                     newLength: newPages * pageSize, options: options, newAddress: VirtualAddress(new)),
                        tlb: machine.mmu).raw
    }

    /// Maps `pages` read-write pages at `address` and writes `tag + i` at the start of page i.
    static func mapWritten(_ space: inout TestSpace, _ machine: PagingMachine, at address: UInt64, pages: UInt64,
                           tag: UInt64 = 0x100) throws {
        try space.mapFixed(address, pages: pages, .readWrite, tlb: machine.mmu)
        for index in 0..<pages { space.userStore(machine, tag + index, at: address + index * pageSize) }
    }

    /// The frames behind `pages` pages from `address` (nil where none).
    static func frames(_ space: borrowing TestSpace, at address: UInt64, pages: UInt64) -> [UInt64?] {
        (0..<pages).map { space.frame(at: address + $0 * pageSize) }
    }

    static func check(_ space: borrowing TestSpace, _ machine: PagingMachine, _ context: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        checkInvariants(machine, context, sourceLocation: sourceLocation) { checker throws(VMInvariantViolation) in
            try checker.add(space)
        }
        #expect(machine.mmu.staleReports.isEmpty, "\(context): \(machine.mmu.staleReports)", sourceLocation: sourceLocation)
    }

    // MARK: Forms

    @Test func shrinkUnmapsTheTailAndReleasesItsFrames() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 4)
            let before = machine.userFrames
            #expect(try Self.remap(&space, machine, Self.page(0), 4, 2) == Self.page(0))
            #expect(space.regionShapes == [region(Self.page(0), pages: 2, .readWrite)])
            #expect(machine.userFrames == before - 2 && space.residentPages == 2)
            #expect(space.userAccess(Self.page(2), .read, machine) == .fault(.notMapped), "no stale TLB entry")
            #expect(space.userLoad(machine, Self.page(1)) == 0x101)
            // The same size is a no-op; a shrink may span regions and holes (munmap's rules).
            #expect(try Self.remap(&space, machine, Self.page(0), 2, 2) == Self.page(0))
            try space.mapFixed(Self.page(3), pages: 1, .read, tlb: machine.mmu)
            #expect(try Self.remap(&space, machine, Self.page(0), 5, 1) == Self.page(0))
            #expect(space.regionShapes == [region(Self.page(0), pages: 1, .readWrite)])
            Self.check(space, machine, "after the shrinks")
        }
    }

    @Test func growsInPlaceWhenThePagesAfterAreFreeAndMergesWithACompatibleNextRegion() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 2)
            let frames = Self.frames(space, at: Self.page(0), pages: 2)
            #expect(try Self.remap(&space, machine, Self.page(0), 2, 4) == Self.page(0), "no MAYMOVE needed")
            #expect(space.regionShapes == [region(Self.page(0), pages: 4, .readWrite)])
            #expect(Self.frames(space, at: Self.page(0), pages: 2) == frames)
            #expect(space.userLoad(machine, Self.page(3)) == 0, "the new pages are demand-zero")
            // An untouched compatible region right after the new end: one region.
            try space.mapFixed(Self.page(6), pages: 2, .readWrite, tlb: machine.mmu)
            #expect(try Self.remap(&space, machine, Self.page(0), 4, 6, Self.mayMove) == Self.page(0))
            #expect(space.regionShapes == [region(Self.page(0), pages: 8, .readWrite)])
            Self.check(space, machine, "after growing")
        }
    }

    @Test func aBlockedGrowthIsENOMEMWithoutMayMoveAndMovesTheSameFramesWithIt() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 4)
            try space.mapFixed(Self.page(4), pages: 1, .read, tlb: machine.mmu)
            let regions = space.regions
            #expect(throws: VMError.noSpace) { try Self.remap(&space, machine, Self.page(0), 4, 8) }
            #expect(space.regions == regions, "nothing changed")
            // A range that does not end at its region's end cannot grow in place either.
            #expect(throws: VMError.noSpace) { try Self.remap(&space, machine, Self.page(0), 2, 3) }
            let frames = Self.frames(space, at: Self.page(0), pages: 4)
            let userFrames = machine.userFrames
            let moved = try Self.remap(&space, machine, Self.page(0), 4, 8, Self.mayMove)
            #expect(moved != Self.page(0) && moved + 8 * pageSize == TestSpace.mmapTop.raw, "placed as mmap places")
            #expect(Self.frames(space, at: moved, pages: 4) == frames, "the same frames: nothing copied")
            #expect(machine.userFrames == userFrames && space.residentPages == 4, "no frame allocated or freed")
            for index in 0..<4 as Range<UInt64> {
                #expect(space.userLoad(machine, moved + index * pageSize) == 0x100 + index)
                #expect(space.userAccess(Self.page(index), .read, machine) == .fault(.notMapped))
            }
            #expect(space.userLoad(machine, moved + 7 * pageSize) == 0)
            #expect(space.regionShapes.first == region(Self.page(4), pages: 1, .read))
            #expect(space.regions.last?.range == VirtualAddress(moved)..<VirtualAddress(moved + 8 * pageSize))
            #expect(space.regions.last?.pageOffset == Self.page(0) / pageSize, "the offset moves with the pages")
            let frame = try #require(frames[2])
            #expect(space.reverseMappings(of: PhysicalAddress(frame)) == [VirtualAddress(moved + 2 * pageSize)])
            // The moved pages are still private and exclusive: writing reuses them.
            #expect(space.userAccess(moved, .write, machine).fixes.isEmpty, "still writable")
            Self.check(space, machine, "after the move")
        }
    }

    @Test func growthPastRLIMIT_ASOrRLIMIT_DATAIsENOMEMAndChangesNothing() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 4)
            let counters = space.counters
            space.limits = MemoryLimits(addressSpace: UInt64(counters.totalPages + 2) * pageSize)
            let regions = space.regions
            // may_expand_vm by the growth: in place, moved, and DONTUNMAP's second mapping.
            #expect(throws: VMError.limitExceeded) { try Self.remap(&space, machine, Self.page(0), 4, 7) }
            #expect(throws: VMError.limitExceeded) { try Self.remap(&space, machine, Self.page(0), 4, 7, Self.mayMove) }
            #expect(throws: VMError.limitExceeded) {
                try Self.remap(&space, machine, Self.page(0), 4, 4, Self.dontUnmap, to: Self.page(64))
            }
            #expect(VMError.limitExceeded.errno == 12, "ENOMEM")
            #expect(space.regions == regions && space.counters == counters, "nothing changed")
            // Within the limit it grows; a move of the same size needs nothing more.
            #expect(try Self.remap(&space, machine, Self.page(0), 4, 6) == Self.page(0))
            #expect(space.counters.totalPages == counters.totalPages + 2)
            #expect(try Self.remap(&space, machine, Self.page(0), 6, 6, Self.fixed, to: Self.page(64)) == Self.page(64))
            #expect(space.counters.totalPages == counters.totalPages + 2)
            // RLIMIT_DATA counts private writable growth only.
            space.limits = MemoryLimits(data: UInt64(space.counters.dataPages) * pageSize)
            #expect(throws: VMError.limitExceeded) { try Self.remap(&space, machine, Self.page(64), 6, 7) }
            try space.mapFixed(Self.page(128), pages: 1, .read, tlb: machine.mmu)
            #expect(try Self.remap(&space, machine, Self.page(128), 1, 2) == Self.page(128), "read-only is not data")
            Self.check(space, machine, "after the limits")
        }
    }

    @Test func parkedProtNonePagesMoveWithTheirFramesAndComeBack() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 3)
            let frames = Self.frames(space, at: Self.page(0), pages: 3)
            try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(3)), to: .noAccess, tlb: machine.mmu)
            let userFrames = machine.userFrames
            let moved = try Self.remap(&space, machine, Self.page(0), 3, 3, Self.fixed, to: Self.page(600))
            #expect(moved == Self.page(600) && machine.userFrames == userFrames && space.residentPages == 3)
            #expect(space.userAccess(moved, .read, machine) == .fault(.accessDenied), "still PROT_NONE")
            Self.check(space, machine, "parked pages moved")
            try space.protect(VirtualAddress(moved)..<VirtualAddress(moved + 3 * pageSize), to: .readWrite,
                              tlb: machine.mmu)
            #expect(Self.frames(space, at: moved, pages: 3) == frames, "the same frames")
            for index in 0..<3 as Range<UInt64> { #expect(space.userLoad(machine, moved + index * pageSize) == 0x100 + index) }
            Self.check(space, machine, "parked pages back")
        }
    }

    @Test func fixedMovesOntoWhateverWasThereAndCanShrinkOnTheWay() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 4)
            try Self.mapWritten(&space, machine, at: Self.page(16), pages: 4, tag: 0x900)
            let frames = Self.frames(space, at: Self.page(0), pages: 4)
            let userFrames = machine.userFrames
            #expect(try Self.remap(&space, machine, Self.page(0), 4, 3, Self.fixed, to: Self.page(17)) == Self.page(17))
            #expect(machine.userFrames == userFrames - 3 - 1, "the target's 3 pages and the old tail went")
            #expect(Self.frames(space, at: Self.page(17), pages: 3) == Array(frames[0..<3]))
            #expect(space.userLoad(machine, Self.page(16)) == 0x900, "the target's untouched neighbour stays")
            #expect(space.userLoad(machine, Self.page(19)) == 0x102)
            #expect(space.userAccess(Self.page(20), .read, machine) == .fault(.notMapped))
            #expect(space.regions.count == 2, "the moved pages do not merge with the page before: other offsets")
            // Moving the middle of a region splits it; moving it back merges it again.
            #expect(try Self.remap(&space, machine, Self.page(18), 1, 1, Self.fixed, to: Self.page(40)) == Self.page(40))
            #expect(space.regions.count == 4)
            #expect(try Self.remap(&space, machine, Self.page(40), 1, 1, Self.fixed, to: Self.page(18)) == Self.page(18))
            #expect(space.regions.map(\.range) == [VirtualAddress(Self.page(16))..<VirtualAddress(Self.page(17)),
                                                    VirtualAddress(Self.page(17))..<VirtualAddress(Self.page(20))],
                    "contiguous offsets and one lineage: one region again")
            #expect(space.userLoad(machine, Self.page(18)) == 0x101)
            Self.check(space, machine, "after the fixed moves")
        }
    }

    @Test func anUnfaultedAnonymousRegionTakesItsNewPlacesOffsetAndMerges() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.page(8), pages: 2, .readWrite, tlb: machine.mmu)
            #expect(try Self.remap(&space, machine, Self.page(0), 2, 2, Self.fixed, to: Self.page(10)) == Self.page(10))
            #expect(space.regionShapes == [region(Self.page(8), pages: 4, .readWrite)], "copy_vma: new pgoff, merged")
            Self.check(space, machine, "after the move")
        }
    }

    @Test func dontUnmapLeavesTheOldRangeMappedAndEmpty() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 4)
            let frames = Self.frames(space, at: Self.page(0), pages: 4)
            let moved = try Self.remap(&space, machine, Self.page(0), 4, 4, Self.dontUnmap, to: Self.page(64))
            #expect(moved == Self.page(64), "a free hint is taken")
            #expect(Self.frames(space, at: moved, pages: 4) == frames)
            #expect(Self.frames(space, at: Self.page(0), pages: 4) == [nil, nil, nil, nil], "old range emptied")
            #expect(space.region(containing: VirtualAddress(Self.page(3)))?.protection == .readWrite, "still mapped")
            #expect(space.userLoad(machine, Self.page(1)) == 0, "private pages read as zero there")
            #expect(space.userLoad(machine, moved + pageSize) == 0x101)
            space.userStore(machine, 0x55, at: Self.page(2))
            #expect(space.userLoad(machine, moved + 2 * pageSize) == 0x102, "the two ranges are separate")
            Self.check(space, machine, "after DONTUNMAP")
            // With FIXED, onto a mapped target, part of a region.
            try Self.mapWritten(&space, machine, at: Self.page(100), pages: 2, tag: 0x700)
            #expect(try Self.remap(&space, machine, moved + pageSize, 2, 2, [.mayMove, .fixed, .dontUnmap],
                                   to: Self.page(100)) == Self.page(100))
            #expect(space.userLoad(machine, Self.page(101)) == 0x102)
            #expect(space.userLoad(machine, moved + 2 * pageSize) == 0)
            Self.check(space, machine, "after DONTUNMAP|FIXED")
        }
    }

    @Test func dontUnmapOnSharedMemoryLeavesTheOldRangeSeeingTheSameObject() throws {
        try withSpace { space, _, machine in
            try UserAddressSpaceFaultTests.mapShared(&space, machine, at: Self.page(0), pages: 2)
            space.userStore(machine, 0x51, at: Self.page(1))
            let moved = try Self.remap(&space, machine, Self.page(0), 2, 2, Self.dontUnmap)
            #expect(space.userLoad(machine, moved + pageSize) == 0x51)
            #expect(space.userLoad(machine, Self.page(1)) == 0x51, "refaulted from the object")
            #expect(space.frame(at: Self.page(1)) == space.frame(at: moved + pageSize))
            Self.check(space, machine, "after DONTUNMAP of shared memory")
        }
    }

    @Test func oldSizeZeroOnSharedMemoryMapsTheSamePagesAgain() throws {
        try withSpace { space, _, machine in
            try UserAddressSpaceFaultTests.mapShared(&space, machine, at: Self.page(0), pages: 4)
            space.userStore(machine, 0x61, at: Self.page(1))
            let second = try Self.remap(&space, machine, Self.page(1), 0, 2, Self.mayMove)
            #expect(second != Self.page(1))
            let firstFound = space.region(containing: VirtualAddress(Self.page(0)))
            let copyFound = space.region(containing: VirtualAddress(second))
            let first = try #require(firstFound)
            let copy = try #require(copyFound)
            guard case .shared(let object) = first.backing, case .shared(let again) = copy.backing else {
                Issue.record("not shared")
                return
            }
            #expect(object === again, "the same object, not a copy")
            #expect(copy.pageOffset == 1 && copy.pageCount == 2)
            #expect(first.range == VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(4)), "the original stays")
            #expect(space.userLoad(machine, second) == 0x61)
            #expect(space.frame(at: second) == space.frame(at: Self.page(1)), "one frame, two mappings")
            space.userStore(machine, 0x62, at: second + pageSize)
            #expect(space.userLoad(machine, Self.page(2)) == 0x62)
            // Without MAYMOVE there is nowhere to put it.
            #expect(throws: VMError.noSpace) { try Self.remap(&space, machine, Self.page(1), 0, 2) }
            // Beyond the object's end, the new mapping gives SIGBUS like the old one.
            let long = try Self.remap(&space, machine, Self.page(3), 0, 2, Self.mayMove)
            #expect(space.userAccess(long + pageSize, .read, machine) == .fault(.beyondEnd))
            Self.check(space, machine, "after duplicating")
        }
    }

    // MARK: Errors (Linux's order)

    @Test func everyErrorHasLinuxsErrnoAndChangesNothing() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 4)
            try space.mapFixed(Self.page(4), pages: 2, .read, tlb: machine.mmu)
            let regions = space.regions
            let frames = Self.frames(space, at: Self.page(0), pages: 4)
            func fails(_ error: VMError, _ old: UInt64, _ oldLength: UInt64, _ newLength: UInt64,
                       _ options: RemapOptions = [], _ new: UInt64 = 0, _ what: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
                let request = RemapRequest(oldAddress: VirtualAddress(old), oldLength: oldLength, newLength: newLength,
                                           options: options, newAddress: VirtualAddress(new))
                Self.expectFailure(error, request, &space, machine, regions: regions, frames: frames, what,
                                   sourceLocation: sourceLocation)
            }
            let page = pageSize
            fails(.invalidArgument, Self.page(0) + 8, page, page, [], 0, "unaligned old address")
            fails(.invalidArgument, Self.page(0), page, 0, Self.mayMove, 0, "new size 0")
            fails(.invalidArgument, Self.page(0), page, UInt64.max - 10, Self.mayMove, 0, "new size 0 once rounded")
            fails(.invalidArgument, Self.page(0), page, page, .fixed, Self.page(50), "FIXED without MAYMOVE")
            fails(.invalidArgument, Self.page(0), page, page, .dontUnmap, Self.page(50), "DONTUNMAP without MAYMOVE")
            fails(.invalidArgument, Self.page(0), page, 2 * page, Self.dontUnmap, 0, "DONTUNMAP resizing")
            fails(.invalidArgument, Self.page(0), page, page + 1, Self.dontUnmap, 0, "DONTUNMAP: unrounded sizes differ")
            fails(.invalidArgument, Self.page(0), page, page, Self.fixed, Self.page(50) + 1, "unaligned new address")
            fails(.invalidArgument, 0x2000_0000, page, page, .fixed, Self.page(50),
                  "FIXED without MAYMOVE comes before the lookup")
            fails(.badAddress, 0x2000_0000, page, page, [], 0, "nothing mapped at the old address")
            fails(.badAddress, 0x2000_0000, page, 2 * page, Self.mayMove, 0, "nothing mapped, growing")
            fails(.badAddress, 0xffff_8000_0000_0000, page, page, Self.mayMove, 0, "a kernel address")
            fails(.invalidArgument, Self.page(0), 4 * page, 4 * page, Self.fixed, Self.page(2), "FIXED overlapping")
            fails(.invalidArgument, Self.page(2), 2 * page, 4 * page, Self.fixed, Self.page(0), "FIXED overlapping below")
            fails(.invalidArgument, Self.page(0), page, page, Self.fixed, TestSpace.userEnd.raw, "FIXED past user space")
            fails(.invalidArgument, Self.page(0), page, TestSpace.userEnd.raw + page, Self.fixed,
                  Self.page(50), "a new length larger than user space")
            fails(.badAddress, Self.page(2), 4 * page, 5 * page, Self.mayMove, 0, "old range spans two regions")
            fails(.badAddress, Self.page(4), 3 * page, 4 * page, Self.mayMove, 0, "old range runs into a hole")
            fails(.badAddress, Self.page(2), 4 * page, 4 * page, Self.fixed, Self.page(50), "FIXED across two regions")
            fails(.invalidArgument, Self.page(0), 0, page, Self.mayMove, 0, "old size 0 on a private mapping")
            fails(.noSpace, Self.page(0), 4 * page, 5 * page, [], 0, "blocked without MAYMOVE")
            fails(.noSpace, Self.page(0), 4 * page, TestSpace.userEnd.raw - Self.page(0), Self.mayMove, 0,
                  "no free range that large")
            fails(.notPermitted, Self.page(0), page, page, Self.fixed, 0x1000, "FIXED below userStart")
            Self.check(space, machine, "after the errors")
        }
    }

    /// Expects `request` to fail with `error` and to leave the regions and
    /// the first four pages' frames as they were.
    static func expectFailure(_ expected: VMError, _ request: RemapRequest, _ space: inout TestSpace,
                              _ machine: PagingMachine, regions: [Region], frames: [UInt64?], _ what: String,
                              sourceLocation: SourceLocation) {
        do throws(VMError) {
            _ = try space.remap(request, tlb: machine.mmu)
            Issue.record("\(what): succeeded", sourceLocation: sourceLocation)
        } catch {
            #expect(error == expected, "\(what): \(error)", sourceLocation: sourceLocation)
        }
        #expect(space.regions == regions, "\(what): regions unchanged", sourceLocation: sourceLocation)
        #expect(Self.frames(space, at: Self.page(0), pages: 4) == frames, "\(what)", sourceLocation: sourceLocation)
    }

    @Test func aPageOffsetThatWouldOverflowIsEINVAL() throws {
        try withSpace { space, _, machine in
            _ = try space.map(MapRequest(address: VirtualAddress(Self.page(0)), length: pageSize, protection: .read,
                                         fixed: true,
                                         backing: .shared(SharedMemory(pageCount: 1, frames: machine.frames)),
                                         pageOffset: UInt64.max - 1), tlb: machine.mmu)
            #expect(throws: VMError.invalidArgument) { try Self.remap(&space, machine, Self.page(0), 1, 3, Self.mayMove) }
        }
    }

    @Test func fixedUnmapsTheTargetEvenWhenTheOldRangeIsThenRefusedAsLinuxDoes() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.page(2), pages: 2, .read, tlb: machine.mmu)
            try space.mapFixed(Self.page(10), pages: 2, .read, tlb: machine.mmu)
            #expect(throws: VMError.badAddress) {
                try Self.remap(&space, machine, Self.page(0), 4, 4, Self.fixed, to: Self.page(10))
            }
            let free = space.isFree(VirtualAddress(Self.page(10))..<VirtualAddress(Self.page(14)))
            #expect(free, "mremap_to unmaps the target before remap_is_valid")
        }
    }

    // MARK: Fork, page tables, failures

    @Test func copyOnWritePagesMovedInTheChildOrTheParentStayCorrectlyShared() throws {
        try withSpace { space, kernel, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 4)
            let original = Self.frames(space, at: Self.page(0), pages: 4)
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                // The child moves its copy away; the frames stay shared.
                #expect(try Self.remap(&child, machine, Self.page(0), 4, 4, Self.fixed, to: Self.page(32)) == Self.page(32))
                #expect(Self.frames(child, at: Self.page(32), pages: 4) == original)
                let frame0 = PhysicalAddress(try #require(original[0]))
                #expect(machine.frames.referenceCount(of: frame0) == 2 && machine.frames.mapCount(of: frame0) == 2)
                #expect(child.reverseMappings(of: frame0) == [VirtualAddress(Self.page(32))])
                #expect(parent.reverseMappings(of: frame0) == [VirtualAddress(Self.page(0))])
                checkInvariants(machine, "after the child moved") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
                // The child's write copies; the parent then reuses its frame in place.
                #expect(child.userAccess(Self.page(32), .write, machine).fixes == [.copyOnWrite])
                child.userStore(machine, 0xC0, at: Self.page(32))
                #expect(parent.userLoad(machine, Self.page(0)) == 0x100)
                #expect(parent.userAccess(Self.page(0), .write, machine).fixes == [.reuse])
                #expect(parent.frame(at: Self.page(0)) == original[0])
                // The parent moves too (grows, so it moves); the child's view is unchanged.
                try parent.mapFixed(Self.page(4), pages: 1, .read, tlb: machine.mmu)
                let moved = try Self.remap(&parent, machine, Self.page(0), 4, 6, Self.mayMove)
                #expect(Self.frames(parent, at: moved + pageSize, pages: 3) == Array(original[1..<4]))
                parent.userStore(machine, 0xD1, at: moved + pageSize)
                #expect(child.userLoad(machine, Self.page(33)) == 0x101, "the child does not see the parent's write")
                #expect(child.userAccess(Self.page(34), .write, machine).fixes == [.copyOnWrite])
                checkInvariants(machine, "after both moved and wrote") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
                #expect(machine.mmu.staleReports.isEmpty, "\(machine.mmu.staleReports)")
                parent.load(in: machine)
            }
        }
    }

    @Test func wholePageTablesMoveWhenTheDistanceKeeps2MiBAlignment() throws {
        try withSpace { space, _, machine in
            let from: UInt64 = 0x4000_0000, to: UInt64 = 0x4400_0000, pages: UInt64 = 1024 + 3
            let tablesBefore = machine.frames.allocatedFrameCount(of: .pageTable)
            try space.mapFixed(from, pages: pages, .readWrite, tlb: machine.mmu)
            for index in 0..<pages { space.userStore(machine, index, at: from + index * pageSize) }
            let frames = Self.frames(space, at: from, pages: pages)
            let tables = machine.frames.allocatedFrameCount(of: .pageTable)
            let flushes = machine.mmu.fullFlushCount
            #expect(try Self.remap(&space, machine, from, pages, pages, Self.fixed, to: to) == to)
            #expect(Self.frames(space, at: to, pages: pages) == frames)
            #expect(machine.frames.allocatedFrameCount(of: .pageTable) == tables,
                    "three page tables moved whole (the last holds nothing else)")
            #expect(machine.mmu.fullFlushCount == flushes + 1)
            for index in [0, 511, 512, 1023, 1024, 1026] as [UInt64] {
                #expect(space.userAccess(from + index * pageSize, .read, machine) == .fault(.notMapped))
                #expect(space.userLoad(machine, to + index * pageSize) == index)
            }
            Self.check(space, machine, "after the aligned move")
            // An unaligned distance moves entry by entry; nothing empty is left behind.
            let odd = to + (2 << 20) * 8 + 5 * pageSize
            #expect(try Self.remap(&space, machine, to, pages, pages, Self.fixed, to: odd) == odd)
            #expect(Self.frames(space, at: odd, pages: pages) == frames)
            Self.check(space, machine, "after the unaligned move")
            try space.unmap(VirtualAddress(odd)..<VirtualAddress(odd + pages * pageSize), tlb: machine.mmu)
            #expect(machine.frames.allocatedFrameCount(of: .pageTable) == tablesBefore, "no empty table left")
        }
    }

    @Test func misalignedEdgesMoveWithTheirTablesUnlessANeighbourSharesThem() throws {
        try withSpace { space, _, machine in
            let from: UInt64 = 0x4000_0000 + 5 * pageSize, to: UInt64 = from + (64 << 20), pages: UInt64 = 1024
            try space.mapFixed(from, pages: pages, .readWrite, tlb: machine.mmu)
            for index in 0..<pages { space.userStore(machine, index, at: from + index * pageSize) }
            let frames = Self.frames(space, at: from, pages: pages)
            let attempts = machine.frames.allocationAttempts
            #expect(try Self.remap(&space, machine, from, pages, pages, Self.fixed, to: to) == to)
            #expect(machine.frames.allocationAttempts == attempts, "every table moved whole: nothing allocated")
            #expect(Self.frames(space, at: to, pages: pages) == frames)
            Self.check(space, machine, "after the misaligned move")
            // A neighbour in the destination's first 2 MiB, one in the source's last: those edges go entry by entry.
            try Self.mapWritten(&space, machine, at: 0x4000_0000, pages: 1, tag: 0xAA)
            try Self.mapWritten(&space, machine, at: to + pages * pageSize, pages: 1, tag: 0xBB)
            #expect(try Self.remap(&space, machine, to, pages, pages, Self.fixed, to: from) == from)
            #expect(Self.frames(space, at: from, pages: pages) == frames)
            #expect(space.userLoad(machine, 0x4000_0000) == 0xAA && space.userLoad(machine, to + pages * pageSize) == 0xBB)
            for index in [0, 506, 507, 1019, 1023] as [UInt64] {
                #expect(space.userLoad(machine, from + index * pageSize) == index)
                #expect(space.userAccess(to + index * pageSize, .read, machine) == .fault(.notMapped))
            }
            Self.check(space, machine, "after the move next to neighbours")
        }
    }

    @Test func aMoveWithinOne2MiBTableDownwardsKeepsEveryPage() throws {
        try withSpace { space, _, machine in
            // Source [0x3ff000, 0x401000) across two tables, moved down into the first: the first table
            // empties of source entries before the second's arrive in it.
            let from: UInt64 = 0x40_1000_0000 - pageSize, to: UInt64 = from - 3 * pageSize
            try Self.mapWritten(&space, machine, at: from, pages: 2, tag: 0x40)
            let frames = Self.frames(space, at: from, pages: 2)
            #expect(try Self.remap(&space, machine, from, 2, 2, Self.fixed, to: to) == to)
            #expect(Self.frames(space, at: to, pages: 2) == frames)
            #expect(space.userLoad(machine, to + pageSize) == 0x41)
            Self.check(space, machine, "after the downward move")
        }
    }

    @Test func aFailedPageTableAllocationChangesNothing() throws {
        try withSpace { space, _, machine in
            try Self.mapWritten(&space, machine, at: Self.page(0), pages: 3)
            let far: UInt64 = 0x80_0000_0000 + 5 * pageSize  // another PML4 slot: a PDPT, a PD and a PT
            var moved: UInt64 = 0
            let failures = failEachAllocationInTurn(&space, machine) { (space) throws(VMError) in
                moved = try Self.remap(&space, machine, Self.page(0), 3, 3, Self.fixed, to: far)
            }
            #expect(failures == 3 && moved == far)
            #expect(space.userLoad(machine, far + 2 * pageSize) == 0x102)
            Self.check(space, machine, "after the failures")
        }
    }
}
