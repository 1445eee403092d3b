// Host tests of the user address space (Kernel/VM): mmap and munmap here,
// mprotect, brk, fork, kernel-side access and a randomized model check in
// the other UserAddressSpace*Tests files.
//
// Every test runs inside `withSpace`, which loads the space in the fake
// MMU's CR3 (so user accesses go through the page walker and the TLB
// model), and afterwards tears the space down and requires the frame count
// to be back at the baseline measured before the space existed: every test
// is also a leak test. Teardown happens on every path, including thrown
// errors, because a PageTable dropped without teardown kills the process.

import Testing
@testable import KernelCore
import FakeMMU

typealias TestSpace = UserAddressSpace<SimulatedPhysicalMemory, TestFrameProvider>

/// The PML4 slots the test kernel table shares into user spaces (as the kernel does).
let kernelHalf = 255..<512

/// Creates a kernel table and a space sharing it, loads the space in the
/// MMU, runs `body`, then tears both down and checks every frame came back.
func withSpace(_ body: (inout TestSpace, borrowing TestPageTable, PagingMachine) throws -> Void) throws {
    let machine = PagingMachine()
    let kernel = try machine.newTable(pinnedSlots: kernelHalf)
    let baseline = machine.frames.allocatedFrameCount
    var space: TestSpace
    do {
        space = try TestSpace(sharingKernelHalfOf: kernel)
    } catch {
        machine.tearDown(kernel)
        throw error
    }
    machine.mmu.cr3 = space.table.root
    var failure: (any Error)? = nil
    do {
        try body(&space, kernel, machine)
    } catch {
        failure = error
    }
    machine.mmu.cr3 = kernel.root  // unload: teardown requires it
    space.tearDown()
    #expect(machine.frames.allocatedFrameCount == baseline, "teardown returned every frame")
    machine.tearDown(kernel)
    #expect(machine.mmu.staleReports.isEmpty, "no stale TLB entry was used: \(machine.mmu.staleReports)")
    if let failure { throw failure }
}

/// Runs `operation` with the first, then the second, ... frame allocation
/// failing, until it succeeds. Each failed run must throw `.outOfMemory` and
/// leave the regions, the page tables and the frame count exactly as they
/// were; `afterFailure` adds the caller's own checks. Returns the number of
/// failed runs (the allocations the operation makes).
func failEachAllocationInTurn(_ space: inout TestSpace, _ machine: PagingMachine,
                              _ operation: (inout TestSpace) throws(VMError) -> Void,
                              afterFailure: (borrowing TestSpace) -> Void = { _ in }) -> Int {
    var failing = 1
    while true {
        let regions = space.regions
        let snapshot = PageTableSnapshot(memory: machine.memory, root: space.table.root)
        let allocated = machine.frames.allocatedFrameCount
        machine.frames.failAllocation(number: failing)
        do throws(VMError) {
            try operation(&space)
            return failing - 1
        } catch {
            #expect(error == .outOfMemory)
        }
        #expect(space.regions == regions, "allocation \(failing): regions unchanged")
        #expect(PageTableSnapshot(memory: machine.memory, root: space.table.root) == snapshot,
                "allocation \(failing): tables unchanged")
        #expect(machine.frames.allocatedFrameCount == allocated, "allocation \(failing): nothing leaked")
        afterFailure(space)
        failing += 1
    }
}

/// Forks `space`, runs `body` on the child, then tears the child down.
func withFork(of space: borrowing TestSpace, kernel: borrowing TestPageTable, _ machine: PagingMachine,
              _ body: (inout TestSpace) throws -> Void) throws {
    var child = try space.fork(kernel: kernel, tlb: machine.mmu)
    var failure: (any Error)? = nil
    do {
        try body(&child)
    } catch {
        failure = error
    }
    child.tearDown()
    if let failure { throw failure }
}

extension PagingMachine {
    /// The 8 bytes at `address` read by user code in the loaded space, or nil on a fault.
    func userLoad(_ address: UInt64) -> UInt64? {
        guard case .success(let physical) = mmu.access(VirtualAddress(address), .read, .user) else { return nil }
        return memory.pointer(to: physical).load(as: UInt64.self)
    }

    /// Stores `value` at `address` as user code in the loaded space; false on a fault.
    @discardableResult
    func userStore(_ value: UInt64, at address: UInt64) -> Bool {
        guard case .success(let physical) = mmu.access(VirtualAddress(address), .write, .user) else { return false }
        memory.pointer(to: physical).storeBytes(of: value, as: UInt64.self)
        return true
    }

    /// Frames holding user pages.
    var userFrames: Int { frames.allocatedFrameCount(of: .user) }
}

extension UserAddressSpace {
    /// Maps an anonymous region at exactly `address` (tests' shorthand).
    @discardableResult
    mutating func mapFixed<TLB: TLBControl>(_ address: UInt64, pages: UInt64, _ protection: VMProtection,
                                            kind: RegionKind = .anonymous, tlb: TLB) throws(VMError) -> VirtualAddress {
        try map(MapRequest(address: VirtualAddress(address), length: pages * pageSize, protection: protection,
                           kind: kind, fixed: true), tlb: tlb)
    }

    /// The physical frame behind `address`, or nil.
    func frame(at address: UInt64) -> UInt64? { table.translate(VirtualAddress(address))?.raw }
}

/// A region over [start, start + pages pages).
func region(_ start: UInt64, pages: UInt64, _ protection: VMProtection, _ kind: RegionKind = .anonymous) -> Region {
    Region(range: VirtualAddress(start)..<VirtualAddress(start + pages * pageSize), protection: protection, kind: kind)
}

/// A user fault's error code as the fake MMU reports it.
var notPresentUserRead: AccessResult { .pageFault([.user]) }
var protectionUserWrite: AccessResult { .pageFault([.present, .write, .user]) }

@Suite struct UserAddressSpaceMapTests {
    static let base: UInt64 = 0x4000_0000

    @Test func layoutConstantsFollowTheSpec() {
        #expect(TestSpace.userStart.raw == 0x1_0000)
        #expect(TestSpace.userEnd.raw == 0x7f80_0000_0000)
        #expect(TestSpace.userEnd.raw == UInt64(kernelHalf.lowerBound) * PagingLevel.pml4.entryCoverage)
        #expect(TestSpace.stackTop.raw == TestSpace.userEnd.raw - pageSize)
        #expect(TestSpace.stackSize == 128 * 1024)
        #expect(TestSpace.mmapTop.raw == TestSpace.stackTop.raw - TestSpace.stackSize - (1 << 30))
    }

    @Test func nonFixedMapGivesAlignedZeroedUserMemoryBelowMmapTop() throws {
        try withSpace { space, _, machine in
            let length = 3 * pageSize
            let start = try space.map(MapRequest(length: length - 100, protection: .readWrite), tlb: machine.mmu)
            #expect(start.isPageAligned)
            #expect(start.raw + length == TestSpace.mmapTop.raw, "top-down: the highest fit below mmapTop")
            #expect(space.regions == [region(start.raw, pages: 3, .readWrite)])
            #expect(space.residentPages == 3)
            #expect(machine.userFrames == 3)
            for page in 0..<3 as Range<UInt64> {
                let address = start.raw + page * pageSize
                #expect(machine.userLoad(address) == 0)
                #expect(machine.userLoad(address + pageSize - 8) == 0)
                #expect(machine.userStore(0xA0 + page, at: address + 16))
                #expect(machine.mmu.access(VirtualAddress(address), .execute, .user)
                        == .pageFault([.present, .user, .instructionFetch]), "no PROT_EXEC: NX")
                let found = space.table.query(VirtualAddress(address))
                let mapping = try #require(found)
                #expect(mapping.protection == [.read, .write, .user])
                #expect(mapping.size == .size4KiB && mapping.ownsFrame)
            }
            var value: UInt64 = 0
            try withUnsafeMutableBytes(of: &value) { try space.read(into: $0, at: start + (pageSize + 16)) }
            #expect(value == 0xA1)
            #expect(machine.userLoad(start.raw - 8) == nil, "nothing below the region")
        }
    }

    @Test func mapUsesAFreeHintRoundedUpAndIgnoresATakenOrInvalidOne() throws {
        try withSpace { space, _, machine in
            let hinted = try space.map(MapRequest(address: VirtualAddress(Self.base), length: 2 * pageSize,
                                                  protection: .read), tlb: machine.mmu)
            #expect(hinted.raw == Self.base)
            let unaligned = try space.map(MapRequest(address: VirtualAddress(Self.base + 2 * pageSize + 1),
                                                     length: pageSize, protection: .read), tlb: machine.mmu)
            #expect(unaligned.raw == Self.base + 3 * pageSize, "a hint is rounded up to a page")
            let taken = try space.map(MapRequest(address: VirtualAddress(Self.base + pageSize), length: pageSize,
                                                 protection: .read), tlb: machine.mmu)
            #expect(taken.raw == TestSpace.mmapTop.raw - pageSize, "a taken hint falls back to the search")
            let tooLow = try space.map(MapRequest(address: VirtualAddress(0x1000), length: pageSize,
                                                  protection: .read), tlb: machine.mmu)
            #expect(tooLow.raw == TestSpace.mmapTop.raw - 2 * pageSize, "nothing below userStart")
            #expect(space.regions == [region(Self.base, pages: 2, .read), region(Self.base + 3 * pageSize, pages: 1, .read),
                                      region(tooLow.raw, pages: 2, .read)], "adjacent equal regions merge")
        }
    }

    @Test func topDownSearchFillsTheHighestGapThatFits() throws {
        try withSpace { space, _, machine in
            let top = TestSpace.mmapTop.raw
            try space.mapFixed(top - 2 * pageSize, pages: 2, .read, tlb: machine.mmu)
            try space.mapFixed(top - 6 * pageSize, pages: 2, .read, tlb: machine.mmu)  // gap of 2 pages between
            let small = try space.map(MapRequest(length: 2 * pageSize, protection: .readWrite), tlb: machine.mmu)
            #expect(small.raw == top - 4 * pageSize)
            let large = try space.map(MapRequest(length: 3 * pageSize, protection: .readWrite), tlb: machine.mmu)
            #expect(large.raw == top - 9 * pageSize)
        }
    }

    @Test func fixedMapReplacesTheOldMappingAndFreesItsFrames() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 4, .readWrite, tlb: machine.mmu)
            for page in 0..<4 as Range<UInt64> { machine.userStore(0x55 + page, at: Self.base + page * pageSize) }
            let outerFrames = [space.frame(at: Self.base)!, space.frame(at: Self.base + 3 * pageSize)!]
            let replaced = try space.mapFixed(Self.base + pageSize, pages: 2, .read, tlb: machine.mmu)
            #expect(replaced.raw == Self.base + pageSize)
            #expect(space.regions == [region(Self.base, pages: 1, .readWrite), region(Self.base + pageSize, pages: 2, .read),
                                      region(Self.base + 3 * pageSize, pages: 1, .readWrite)])
            #expect(machine.userFrames == 4 && space.residentPages == 4)
            #expect([space.frame(at: Self.base)!, space.frame(at: Self.base + 3 * pageSize)!] == outerFrames)
            #expect(machine.userLoad(Self.base) == 0x55, "outside the fixed range nothing changed")
            #expect(machine.userLoad(Self.base + 3 * pageSize) == 0x58)
            #expect(machine.userLoad(Self.base + pageSize) == 0, "the new mapping is zeroed")
            #expect(machine.userLoad(Self.base + 2 * pageSize) == 0)
            #expect(machine.mmu.access(VirtualAddress(Self.base + pageSize), .write, .user) == protectionUserWrite)
        }
    }

    @Test func fixedMapFreesExactlyTheReplacedFrames() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 4, .readWrite, tlb: machine.mmu)
            let before = machine.frames.allocatedFrameCount
            let oldMiddle = [space.frame(at: Self.base + pageSize)!, space.frame(at: Self.base + 2 * pageSize)!]
            // Hold the fresh frames' allocation order steady: nothing else allocates.
            try space.mapFixed(Self.base + pageSize, pages: 2, .readWrite, kind: .image, tlb: machine.mmu)
            #expect(machine.frames.allocatedFrameCount == before, "two released, two allocated, no table change")
            #expect(Set([space.frame(at: Self.base + pageSize)!, space.frame(at: Self.base + 2 * pageSize)!])
                    == Set(oldMiddle), "the provider handed the just-released frames back (LIFO)")
        }
    }

    @Test func invalidRequestsAreRefusedWithNothingChanged() throws {
        try withSpace { space, _, machine in
            let tlb = machine.mmu
            func refused(_ request: MapRequest, _ expected: VMError, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(throws: expected, sourceLocation: sourceLocation) { try space.map(request, tlb: tlb) }
            }
            refused(MapRequest(length: 0, protection: .read), .invalidArgument)
            refused(MapRequest(address: VirtualAddress(Self.base + 1), length: pageSize, protection: .read, fixed: true),
                    .invalidArgument)
            refused(MapRequest(address: nil, length: pageSize, protection: .read, fixed: true), .invalidArgument)
            refused(MapRequest(address: VirtualAddress(0), length: pageSize, protection: .read, fixed: true),
                    .invalidArgument)
            refused(MapRequest(address: VirtualAddress(TestSpace.userEnd.raw - pageSize), length: 2 * pageSize,
                               protection: .read, fixed: true), .invalidArgument)
            refused(MapRequest(address: VirtualAddress(Self.base), length: UInt64.max, protection: .read, fixed: true),
                    .invalidArgument)
            refused(MapRequest(length: UInt64.max, protection: .read), .noSpace)
            refused(MapRequest(length: TestSpace.mmapTop.raw, protection: .read), .noSpace)
            #expect(space.regions.isEmpty)
            #expect(machine.userFrames == 0 && space.residentPages == 0)
        }
    }

    @Test func protNoneMapCreatesARegionWithoutFrames() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 3, .noAccess, tlb: machine.mmu)
            #expect(space.regions == [region(Self.base, pages: 3, .noAccess)])
            #expect(space.residentPages == 0 && machine.userFrames == 0)
            #expect(machine.mmu.access(VirtualAddress(Self.base), .read, .user) == notPresentUserRead)
        }
    }

    @Test func onlyAnonymousAndHeapNeighboursMerge() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .read, kind: .image, tlb: machine.mmu)
            try space.mapFixed(Self.base + pageSize, pages: 1, .read, kind: .image, tlb: machine.mmu)
            try space.mapFixed(Self.base + 2 * pageSize, pages: 1, .read, tlb: machine.mmu)
            try space.mapFixed(Self.base + 3 * pageSize, pages: 1, .read, tlb: machine.mmu)
            try space.mapFixed(Self.base + 4 * pageSize, pages: 1, .readWrite, tlb: machine.mmu)
            #expect(space.regions == [region(Self.base, pages: 1, .read, .image),
                                      region(Self.base + pageSize, pages: 1, .read, .image),
                                      region(Self.base + 2 * pageSize, pages: 2, .read),
                                      region(Self.base + 4 * pageSize, pages: 1, .readWrite)])
        }
    }

    @Test func outOfMemoryAtEveryAllocationRollsTheMapBackCompletely() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .readWrite, tlb: machine.mmu)
            machine.userStore(0x77, at: Self.base)
            // 2 MiB away: the new range needs its own page table, so table
            // allocations fail too, not only frame allocations.
            let request = MapRequest(address: VirtualAddress(Self.base + (2 << 20) - 2 * pageSize),
                                     length: 6 * pageSize, protection: .readWrite, fixed: true)
            let failures = failEachAllocationInTurn(&space, machine, { (space) throws(VMError) in
                _ = try space.map(request, tlb: machine.mmu)
            }, afterFailure: { space in
                #expect(space.residentPages == 1)
            })
            #expect(failures == 7, "6 frames and one page table, each failed once")
            #expect(space.residentPages == 7)
            #expect(machine.userLoad(Self.base) == 0x77)
        }
    }

    @Test func outOfMemoryInAFixedMapLosesTheReplacedMappingLikeLinux() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 3, .readWrite, tlb: machine.mmu)
            machine.userStore(1, at: Self.base + pageSize)  // cached in the TLB
            machine.frames.failAllocation(number: 2)
            #expect(throws: VMError.outOfMemory) {
                try space.mapFixed(Self.base, pages: 2, .read, tlb: machine.mmu)
            }
            #expect(space.regions == [region(Self.base + 2 * pageSize, pages: 1, .readWrite)])
            #expect(space.residentPages == 1 && machine.userFrames == 1)
            #expect(machine.mmu.access(VirtualAddress(Self.base + pageSize), .read, .user) == notPresentUserRead)
        }
    }
}

@Suite struct UserAddressSpaceUnmapTests {
    static let base: UInt64 = 0x4000_0000

    @Test func unmappingTheMiddleSplitsTheRegionAndFreesItsFrames() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 5, .readWrite, tlb: machine.mmu)
            for page in 0..<5 as Range<UInt64> { machine.userStore(0x10 + page, at: Self.base + page * pageSize) }
            let middle = [space.frame(at: Self.base + pageSize)!, space.frame(at: Self.base + 2 * pageSize)!]
            try space.unmap(VirtualAddress(Self.base + pageSize)..<VirtualAddress(Self.base + 3 * pageSize),
                            tlb: machine.mmu)
            #expect(space.regions == [region(Self.base, pages: 1, .readWrite),
                                      region(Self.base + 3 * pageSize, pages: 2, .readWrite)])
            #expect(space.residentPages == 3 && machine.userFrames == 3)
            #expect(middle.allSatisfy { !machine.frames.isAllocated(PhysicalAddress($0)) })
            #expect(machine.mmu.access(VirtualAddress(Self.base + pageSize), .read, .user) == notPresentUserRead)
            #expect(machine.mmu.access(VirtualAddress(Self.base + 2 * pageSize), .read, .user) == notPresentUserRead)
            #expect(machine.userLoad(Self.base) == 0x10)
            #expect(machine.userLoad(Self.base + 3 * pageSize) == 0x13)
            #expect(machine.userLoad(Self.base + 4 * pageSize) == 0x14)
        }
    }

    @Test func unmapOverHolesAndNothingAtAllSucceeds() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 2, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.base + 4 * pageSize, pages: 2, .read, tlb: machine.mmu)
            try space.unmap(VirtualAddress(0x20_0000)..<VirtualAddress(0x30_0000), tlb: machine.mmu)
            #expect(space.regions.count == 2)
            try space.unmap(VirtualAddress(Self.base + pageSize)..<VirtualAddress(Self.base + 5 * pageSize),
                            tlb: machine.mmu)
            #expect(space.regions == [region(Self.base, pages: 1, .readWrite),
                                      region(Self.base + 5 * pageSize, pages: 1, .read)])
            try space.unmap(VirtualAddress(0)..<TestSpace.userEnd, tlb: machine.mmu)
            #expect(space.regions.isEmpty && space.residentPages == 0 && machine.userFrames == 0)
        }
    }

    @Test func unmapRoundsTheEndUpAndRefusesBadRanges() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 3, .readWrite, tlb: machine.mmu)
            let tlb = machine.mmu
            #expect(throws: VMError.invalidArgument) {
                try space.unmap(VirtualAddress(Self.base + 8)..<VirtualAddress(Self.base + pageSize), tlb: tlb)
            }
            #expect(throws: VMError.invalidArgument) {
                try space.unmap(VirtualAddress(Self.base)..<VirtualAddress(Self.base), tlb: tlb)
            }
            #expect(throws: VMError.invalidArgument) {
                try space.unmap(VirtualAddress(Self.base)..<VirtualAddress(TestSpace.userEnd.raw + pageSize), tlb: tlb)
            }
            #expect(space.regions == [region(Self.base, pages: 3, .readWrite)])
            try space.unmap(VirtualAddress(Self.base)..<VirtualAddress(Self.base + 1), tlb: tlb)
            #expect(space.regions == [region(Self.base + pageSize, pages: 2, .readWrite)])
        }
    }

    @Test func unmapFlushesTheTLB() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 2, .readWrite, tlb: machine.mmu)
            #expect(machine.userStore(9, at: Self.base))  // cached
            try space.unmap(VirtualAddress(Self.base)..<VirtualAddress(Self.base + 2 * pageSize), tlb: machine.mmu)
            #expect(machine.mmu.access(VirtualAddress(Self.base), .write, .user) == .pageFault([.write, .user]))
            #expect(machine.mmu.staleReports.isEmpty)
        }
    }
}
