// Host tests of PROT_NONE keeping its pages (issue [5]): mprotect(PROT_NONE)
// parks each leaf (P=0, the software mark, the frame kept; Linux
// _PAGE_PROTNONE) and mprotect back makes it present again with the same
// frame, allocating nothing. The parked leaves are followed through every
// walk: faults (SEGV_ACCERR, never a fill), kernel accesses (EFAULT),
// unmap, MAP_FIXED replacement, teardown, fork (shared copy-on-write, both
// sides parked), the reverse map and the invariant checker. Every test
// runs in `withSpace`: checker at the end, frames back to the baseline
// after teardown, no stale TLB entry used.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceProtNoneTests {
    static let base: UInt64 = 0x4000_0000

    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }
    static func pages(_ range: Range<UInt64>) -> Range<VirtualAddress> {
        VirtualAddress(page(range.lowerBound))..<VirtualAddress(page(range.upperBound))
    }

    /// The raw level-1 entry for `address` (present, parked or empty).
    static func entry(_ space: borrowing TestSpace, _ machine: PagingMachine, _ address: UInt64) -> PageTableEntry? {
        var found: PageTableEntry? = nil
        space.table.forEachLeaf(in: VirtualAddress(address)..<VirtualAddress(address + pageSize),
                                includingParked: true) { _, entry in found = entry }
        return found
    }

    @Test func aRoundTripKeepsTheDataInTheSameFramesAndAllocatesNothing() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 3, .readWrite, tlb: machine.mmu)
            for index in 0..<3 as Range<UInt64> { space.userStore(machine, 0x5100 + index, at: Self.page(index)) }
            let frames = try (0..<3 as Range<UInt64>).map { try requireFrame(space, Self.page($0)) }
            let attempts = machine.frames.allocationAttempts
            try space.protect(Self.pages(0..<3), to: .noAccess, tlb: machine.mmu)
            for index in 0..<3 as Range<UInt64> {
                let address = VirtualAddress(Self.page(index))
                #expect(space.table.translate(address) == nil, "not present")
                #expect(space.table.parkedFrame(at: address)?.raw == frames[Int(index)], "the frame is kept")
                let found = Self.entry(space, machine, Self.page(index))
                let parked = try #require(found)
                #expect(parked.isParked && !parked.isPresent && parked.ownsFrame)
                #expect(parked.raw & PageTableEntry.parked != 0, "the software mark")
                #expect(parked.raw & PageTableEntry.tableAddressMask != frames[Int(index)],
                        "stored inverted (L1TF), decoded by address(at:)")
                #expect(parked.raw & (PageTableEntry.writable | PageTableEntry.user) == 0, "no rights kept")
                #expect(machine.frames.mapCount(of: PhysicalAddress(frames[Int(index)])) == 1)
                #expect(machine.frames.referenceCount(of: PhysicalAddress(frames[Int(index)])) == 1)
                #expect(machine.mmu.access(address, .read, .user) == notPresentUserRead)
            }
            #expect(space.residentPages == 3 && machine.userFrames == 3, "parked pages stay resident (RSS)")
            try space.protect(Self.pages(0..<3), to: .readWrite, tlb: machine.mmu)
            #expect(machine.frames.allocationAttempts == attempts, "neither direction allocates")
            for index in 0..<3 as Range<UInt64> {
                #expect(space.frame(at: Self.page(index)) == frames[Int(index)], "the same frame comes back")
                #expect(space.userAccess(Self.page(index), .write, machine).fixes == [],
                        "an exclusive page comes back writable: no fault")
                #expect(space.userLoad(machine, Self.page(index)) == 0x5100 + index)
            }
            #expect(space.residentPages == 3 && machine.userFrames == 3)
        }
    }

    @Test func everyAccessToAParkedPageIsAccessDeniedNeverAFill() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 2, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 0x77, at: Self.page(0))
            #expect(space.userLoad(machine, Self.page(1)) == 0, "a zero-page leaf")
            try space.protect(Self.pages(0..<2), to: .noAccess, tlb: machine.mmu)
            let attempts = machine.frames.allocationAttempts
            for index in 0..<2 as Range<UInt64> {
                for kind in [AccessKind.read, .write, .execute] {
                    #expect(space.userAccess(Self.page(index), kind, machine) == .fault(.accessDenied),
                            "SIGSEGV with SEGV_ACCERR")
                }
                #expect(throws: VMError.notMapped, "read(2) into it: EFAULT") {
                    _ = try space.kernelLoad(machine, Self.page(index))
                }
                #expect(throws: VMError.notMapped, "write(2) from it: EFAULT") {
                    try space.kernelStore(machine, 1, at: Self.page(index))
                }
                #expect(space.table.parkedFrame(at: VirtualAddress(Self.page(index))) != nil, "still parked")
            }
            #expect(machine.frames.allocationAttempts == attempts, "nothing was filled")
            try space.protect(Self.pages(0..<2), to: .read, tlb: machine.mmu)
            #expect(space.userLoad(machine, Self.page(0)) == 0x77)
            #expect(space.userAccess(Self.page(0), .write, machine) == .fault(.accessDenied), "PROT_READ")
        }
    }

    @Test func theZeroPageIsParkedAndComesBackCopyOnWrite() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .readWrite, tlb: machine.mmu)
            #expect(space.userLoad(machine, Self.base) == 0)
            try space.protect(Self.pages(0..<1), to: .noAccess, tlb: machine.mmu)
            #expect(space.table.parkedFrame(at: VirtualAddress(Self.base)) == machine.frames.zeroFrame)
            try space.protect(Self.pages(0..<1), to: .readWrite, tlb: machine.mmu)
            #expect(space.table.query(VirtualAddress(Self.base))?.protection == .userReadOnly,
                    "the zero page never becomes writable")
            #expect(space.userAccess(Self.base, .write, machine).fixes == [.demandZero])
            #expect(space.userLoad(machine, Self.base) == 0)
        }
    }

    @Test func protNoneSplitsTheRegionAndRaisingItBackMergesItAgain() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 4, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 0xA, at: Self.page(1))
            #expect(space.userLoad(machine, Self.page(2)) == 0)
            try space.protect(Self.pages(1..<3), to: .noAccess, tlb: machine.mmu)
            #expect(space.regionShapes == [region(Self.page(0), pages: 1, .readWrite),
                                           region(Self.page(1), pages: 2, .noAccess),
                                           region(Self.page(3), pages: 1, .readWrite)])
            try space.protect(Self.pages(2..<3), to: .read, tlb: machine.mmu)
            #expect(space.userLoad(machine, Self.page(2)) == 0)
            try space.protect(Self.pages(1..<3), to: .readWrite, tlb: machine.mmu)
            #expect(space.regionShapes == [region(Self.page(0), pages: 4, .readWrite)])
            #expect(space.userLoad(machine, Self.page(1)) == 0xA)
            #expect(space.userAccess(Self.page(1), .write, machine).fixes == [])
            #expect(space.userAccess(Self.page(2), .write, machine).fixes == [.demandZero], "the zero page stays COW")
        }
    }

    @Test func writableTranslationsCachedBeforeProtNoneAreFlushed() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 40, .readWrite, tlb: machine.mmu)
            for index in 0..<40 as Range<UInt64> { #expect(space.userStore(machine, index, at: Self.page(index)) == true) }
            try space.protect(Self.pages(0..<1), to: .noAccess, tlb: machine.mmu)    // one invlpg
            try space.protect(Self.pages(1..<40), to: .noAccess, tlb: machine.mmu)   // past the limit: a full flush
            for index in 0..<40 as Range<UInt64> {
                #expect(machine.mmu.access(VirtualAddress(Self.page(index)), .write, .user) == .pageFault([.user, .write]))
            }
            #expect(machine.mmu.staleReports.isEmpty)
        }
    }

    @Test func unmappingParkedPagesFreesTheirFramesAndTables() throws {
        try withSpace { space, _, machine in
            let tables = machine.frames.allocatedFrameCount(of: .pageTable)
            try space.mapFixed(Self.base, pages: 4, .readWrite, tlb: machine.mmu)
            for index in 0..<4 as Range<UInt64> { space.userStore(machine, index + 1, at: Self.page(index)) }
            try space.protect(Self.pages(0..<4), to: .noAccess, tlb: machine.mmu)
            try space.unmap(Self.pages(1..<2), tlb: machine.mmu)
            #expect(space.residentPages == 3 && machine.userFrames == 3, "munmap of a parked page frees it")
            _ = try space.mapFixed(Self.page(2), pages: 1, .readWrite, tlb: machine.mmu)   // MAP_FIXED over one
            #expect(space.residentPages == 2 && machine.userFrames == 2, "MAP_FIXED replaced a parked page")
            #expect(space.userLoad(machine, Self.page(2)) == 0, "the new mapping is fresh")
            try space.unmap(Self.pages(0..<4), tlb: machine.mmu)
            #expect(space.residentPages == 0 && machine.userFrames == 0)
            #expect(machine.frames.allocatedFrameCount(of: .pageTable) == tables, "the emptied tables went too")
        }
    }

    @Test func teardownReleasesParkedPages() throws {
        // withSpace tears the space down with the pages still parked and
        // requires every frame back.
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 3, .readWrite, tlb: machine.mmu)
            for index in 0..<3 as Range<UInt64> { space.userStore(machine, index, at: Self.page(index)) }
            try space.protect(Self.pages(0..<3), to: .noAccess, tlb: machine.mmu)
            #expect(machine.userFrames == 3)
        }
    }

    @Test func forkSharesParkedPagesCopyOnWriteAndBothKeepTheirData() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.base, pages: 2, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 0xFEED, at: Self.page(0))
            space.userStore(machine, 0xBEEF, at: Self.page(1))
            try space.protect(Self.pages(0..<2), to: .noAccess, tlb: machine.mmu)
            let parked = space.table.parkedFrame(at: VirtualAddress(Self.base))
            let frame = try #require(parked)
            let userFrames = machine.userFrames
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                #expect(child.table.parkedFrame(at: VirtualAddress(Self.base)) == frame, "the child parks the same frame")
                #expect(parent.table.parkedFrame(at: VirtualAddress(Self.base)) == frame, "the parent stays parked")
                #expect(machine.frames.mapCount(of: frame) == 2 && machine.frames.referenceCount(of: frame) == 2)
                #expect(!machine.frames.flags(of: frame).contains(.anonExclusive), "fork clears the exclusive mark")
                #expect(child.residentPages == 2 && machine.userFrames == userFrames, "shared, not copied")
                #expect(child.reverseMappings(of: frame) == [VirtualAddress(Self.base)], "the reverse map finds it")
                #expect(child.userAccess(Self.base, .read, machine) == .fault(.accessDenied), "PROT_NONE in the child")
                checkInvariants(machine, "after fork") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
                // Raising the protection of a shared page must not make it writable.
                try parent.protect(Self.pages(0..<2), to: .readWrite, tlb: machine.mmu)
                #expect(parent.table.query(VirtualAddress(Self.base))?.protection == .userReadOnly, "still shared")
                #expect(parent.userAccess(Self.base, .write, machine).fixes == [.copyOnWrite])
                #expect(parent.userStore(machine, 0x1111, at: Self.base) == true)
                try child.protect(Self.pages(0..<2), to: .read, tlb: machine.mmu)
                #expect(child.userLoad(machine, Self.base) == 0xFEED, "the child kept the original")
                #expect(child.userLoad(machine, Self.page(1)) == 0xBEEF)
                try child.protect(Self.pages(0..<2), to: .readWrite, tlb: machine.mmu)
                #expect(child.userAccess(Self.base, .write, machine).fixes == [.reuse], "the parent copied away")
                #expect(child.userStore(machine, 0x2222, at: Self.page(1)) == true)
                #expect(child.userLoad(machine, Self.base) == 0xFEED)
                #expect(parent.userLoad(machine, Self.base) == 0x1111, "writes stay private")
                #expect(parent.userLoad(machine, Self.page(1)) == 0xBEEF, "writes stay private")
                checkInvariants(machine, "after the writes") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
            }
        }
    }

    @Test func aParkedPageWhoseForkChildExitedIsReusedNotCopied() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.base, pages: 1, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 0xAB, at: Self.base)
            try space.protect(Self.pages(0..<1), to: .noAccess, tlb: machine.mmu)
            try withFork(of: &space, kernel: kernel, machine) { _, _ in }
            let parked = space.table.parkedFrame(at: VirtualAddress(Self.base))
            let frame = try #require(parked)
            #expect(machine.frames.mapCount(of: frame) == 1 && machine.frames.referenceCount(of: frame) == 1)
            try space.protect(Self.pages(0..<1), to: .readWrite, tlb: machine.mmu)
            #expect(space.table.query(VirtualAddress(Self.base))?.protection == .userReadOnly,
                    "the exclusive mark is gone: read-only")
            #expect(space.userAccess(Self.base, .write, machine).fixes == [.reuse], "the only reference: reused")
            #expect(space.frame(at: Self.base) == frame.raw && space.userLoad(machine, Self.base) == 0xAB)
        }
    }

    @Test func forkThatRunsOutOfMemoryWithParkedPagesLeaksNothing() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.base, pages: 2, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.base + 0x40_0000, pages: 1, .readWrite, tlb: machine.mmu)   // another page table
            for address in [Self.base, Self.page(1), Self.base + 0x40_0000] { space.userStore(machine, address, at: address) }
            try space.protect(Self.pages(0..<2), to: .noAccess, tlb: machine.mmu)
            let allocated = machine.frames.allocatedFrameCount
            var failing = 1
            while true {
                machine.frames.failAllocation(number: failing)
                do throws(VMError) {
                    var child = try space.fork(kernel: kernel, tlb: machine.mmu)
                    child.tearDown()
                    break
                } catch {
                    #expect(error == .outOfMemory)
                }
                #expect(machine.frames.allocatedFrameCount == allocated, "allocation \(failing): nothing leaked")
                checkInvariants(machine, "allocation \(failing)") { checker throws(VMInvariantViolation) in
                    try checker.add(space)
                }
                failing += 1
            }
            #expect(failing > 2, "the child's tables failed in turn")
            try space.protect(Self.pages(0..<2), to: .readWrite, tlb: machine.mmu)
            #expect(space.userLoad(machine, Self.page(1)) == Self.page(1))
        }
    }

    @Test func sharedMemoryIsParkedWithTheObjectsFrame() throws {
        try withSpace { space, _, machine in
            _ = try space.map(MapRequest(address: VirtualAddress(Self.base), length: pageSize, protection: .readWrite,
                                         fixed: true, backing: .shared(SharedMemory(pageCount: 1, frames: machine.frames)),
                                         pageOffset: 0), tlb: machine.mmu)
            space.userStore(machine, 0x5EED, at: Self.base)
            let frame = try requireFrame(space, Self.base)
            try space.protect(Self.pages(0..<1), to: .noAccess, tlb: machine.mmu)
            #expect(space.table.parkedFrame(at: VirtualAddress(Self.base))?.raw == frame)
            #expect(space.reverseMappings(of: PhysicalAddress(frame)) == [VirtualAddress(Self.base)])
            let attempts = machine.frames.allocationAttempts
            try space.protect(Self.pages(0..<1), to: .readWrite, tlb: machine.mmu)
            #expect(machine.frames.allocationAttempts == attempts)
            #expect(space.userAccess(Self.base, .write, machine).fixes == [], "shared pages come back writable")
            #expect(space.userLoad(machine, Self.base) == 0x5EED)
        }
    }

    @Test func aPrivateFileCopyIsParkedNotReadAgain() throws {
        let fileBytes = [UInt8](repeating: 0x11, count: Int(pageSize))
        try fileBytes.withUnsafeBytes { bytes in
            try withSpace { space, _, machine in
                _ = try space.map(MapRequest(address: VirtualAddress(Self.base), length: pageSize, protection: .readWrite,
                                             fixed: true, backing: .privateFile(FileContents(bytes: bytes, frames: machine.frames)),
                                             pageOffset: 0),
                                  tlb: machine.mmu)
                space.userStore(machine, 0x2222, at: Self.base)
                try space.protect(Self.pages(0..<1), to: .noAccess, tlb: machine.mmu)
                try space.protect(Self.pages(0..<1), to: .read, tlb: machine.mmu)
                #expect(space.userLoad(machine, Self.base) == 0x2222, "the private copy, not the file")
                #expect(space.userLoad(machine, Self.base + 8) == 0x1111_1111_1111_1111)
            }
        }
    }

    @Test func theCheckerCatchesParkedLeavesInTheWrongPlace() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 1, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.page(1), pages: 1, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 1, at: Self.page(0))
            space.userStore(machine, 2, at: Self.page(1))
            try space.protect(Self.pages(1..<2), to: .noAccess, tlb: machine.mmu)
            #expect(UserAddressSpaceProtNoneTests.violation(space, machine) == nil)
            // Behind the VM's back: park the leaf of an accessible region...
            try space.table.edit(Self.pages(0..<1), flushingWith: machine.mmu) { (cursor) throws(PagingError) in
                #expect(try cursor.park(length: pageSize) == 1)
            }
            #expect(Self.violation(space, machine) == "parked leaf accessible")
            try space.table.edit(Self.pages(0..<1), flushingWith: machine.mmu) { (cursor) throws(PagingError) in
                #expect(try cursor.unpark(length: pageSize) { _, _ in .userReadWrite } == 1)
            }
            #expect(Self.violation(space, machine) == nil)
            // ...and unpark one of a PROT_NONE region.
            try space.table.edit(Self.pages(1..<2), flushingWith: machine.mmu) { (cursor) throws(PagingError) in
                #expect(try cursor.unpark(length: pageSize) { _, _ in .userReadOnly } == 1)
            }
            #expect(Self.violation(space, machine) == "leaf exceeds region")
            try space.table.edit(Self.pages(1..<2), flushingWith: machine.mmu) { (cursor) throws(PagingError) in
                #expect(try cursor.park(length: pageSize) == 1)
            }
            #expect(Self.violation(space, machine) == nil)
            // A parked frame's counts are checked like a present one's.
            let parked = space.table.parkedFrame(at: VirtualAddress(Self.page(1)))
            let frame = try #require(parked)
            let extra = machine.frames.shareFrame(at: frame)   // a reference and a map count without a leaf
            machine.frames.incrementMapCount(frame)
            #expect(Self.violation(space, machine) == "exclusive frame shared")
            machine.frames.decrementMapCount(frame)
            machine.frames.releaseFrame(extra)
            space.residentPages -= 1
            #expect(Self.violation(space, machine) == "resident pages", "parked pages are resident")
            space.residentPages += 1
            #expect(Self.violation(space, machine) == nil)
        }
    }

    /// The violation the full check of `space` reports, or nil.
    static func violation(_ space: borrowing TestSpace, _ machine: PagingMachine) -> String? {
        VMInvariantCheckerTests.violation(space, machine)
    }
}
