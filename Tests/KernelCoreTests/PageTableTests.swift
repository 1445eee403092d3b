// Host tests of the x86-64 page tables (Kernel/Arch/x86_64/Paging), checked
// through the fake MMU's page walker and TLB model (Tests/FakeMMU).
//
// What each test pins down is in its name; the random test compares every
// step with a reference model (virtual page -> frame and protection) through
// user and supervisor reads, writes and fetches, and requires zero stale-TLB
// reports, so a missing or wrong flush, a wrong bit, or a leaked or
// never-freed table fails it.

import Testing
@testable import KernelCore
import FakeMMU

typealias TestPageTable = PageTable<SimulatedPhysicalMemory, TestFrameProvider>
typealias TestCursor = PageTableCursor<SimulatedPhysicalMemory, TestFrameProvider>

/// Simulated RAM, a frame provider over it and an MMU looking at it.
final class PagingMachine {
    static let ramBytes: UInt64 = 64 << 20
    static let firstFrame: UInt64 = 1 << 20
    static let frameCount = 8192
    let memory: SimulatedPhysicalMemory
    let frames: TestFrameProvider
    let mmu: FakeMMU

    init() {
        memory = SimulatedPhysicalMemory(size: Self.ramBytes)
        frames = TestFrameProvider(memory: memory, firstFrame: PhysicalAddress(Self.firstFrame), frameCount: Self.frameCount)
        mmu = FakeMMU(memory: memory)
    }

    func newTable(pinnedSlots: Range<Int> = 0..<0) throws -> TestPageTable {
        try TestPageTable(memory: memory, frames: frames, pinnedSlots: pinnedSlots)
    }

    /// Runs `body` on a cursor over [range), then flushes what it owes on the
    /// fake MMU (harmless when the table is not loaded there), rethrowing
    /// the body's error afterwards.
    func edit(_ table: inout TestPageTable, _ range: Range<UInt64>,
              _ body: (inout TestCursor) throws(PagingError) -> Void) throws(PagingError) {
        try table.edit(VirtualAddress(range.lowerBound)..<VirtualAddress(range.upperBound), flushingWith: mmu, body)
    }

    /// Maps one fresh zeroed user frame at `address`; returns its physical address.
    @discardableResult
    func mapFreshPage(_ table: inout TestPageTable, at address: UInt64,
                      _ protection: PageProtection) throws(PagingError) -> UInt64 {
        var physical: UInt64 = 0
        try edit(&table, address..<address + pageSize) { cursor throws(PagingError) in
            let frame = frames.allocateFrame(kind: .user)!
            physical = frame.address.raw
            try cursor.map(frame, protection)
        }
        return physical
    }

    /// Tears `table` down, releasing every owned frame to the provider.
    func tearDown(_ table: consuming TestPageTable) {
        table.tearDown { frames.releaseFrame($0) }
    }
}

/// The reference: what the CPU must do for `kind` in `mode` on a page the
/// model maps with `page` (or does not map), under the MMU's registers.
/// Written from SDM vol. 3A §4.6 and §4.7 directly, not from the code under test.
func expectedAccess(_ page: (frame: UInt64, protection: PageProtection)?, offset: UInt64,
                    _ kind: AccessKind, _ mode: PrivilegeMode, _ mmu: FakeMMU) -> AccessResult {
    var code: PageFaultErrorCode = []
    if kind == .write { code.insert(.write) }
    if mode == .user { code.insert(.user) }
    if kind == .execute && (mmu.noExecuteEnabled || mmu.smep) { code.insert(.instructionFetch) }
    guard let page else { return .pageFault(code) }
    let isUserPage = page.protection.contains(.user)
    let canWrite = page.protection.contains(.write)
    let canExecute = page.protection.contains(.execute) || !mmu.noExecuteEnabled
    let denied: Bool
    switch mode {
    case .user:
        denied = !isUserPage || (kind == .write && !canWrite) || (kind == .execute && !canExecute)
    case .supervisor:
        let smapBlocks = isUserPage && mmu.smap && !mmu.alignmentCheck
        switch kind {
        case .read: denied = smapBlocks
        case .write: denied = smapBlocks || (mmu.writeProtect && !canWrite)
        case .execute: denied = (isUserPage && mmu.smep) || !canExecute
        }
    }
    return denied ? .pageFault(code.union(.present)) : .success(PhysicalAddress(page.frame + offset))
}

@Suite("PageTable")
struct PageTableTests {
    // MARK: Basics

    @Test func mapQueryTranslateUnmapOnePage() throws {
        let machine = PagingMachine()
        let baseline = machine.frames.freeFrameCount
        var table = try machine.newTable()
        let address: UInt64 = 0x0000_1234_5678_9000
        let physical = try machine.mapFreshPage(&table, at: address, .userReadWrite)

        let found = table.query(VirtualAddress(address + 0x10))
        let mapping = try #require(found)
        #expect(mapping.virtualStart.raw == address)
        #expect(mapping.physicalStart.raw == physical)
        #expect(mapping.size == .size4KiB)
        #expect(mapping.protection == .userReadWrite)
        #expect(mapping.ownsFrame)
        #expect(table.translate(VirtualAddress(address + 0xABC))?.raw == physical + 0xABC)
        #expect(table.translate(VirtualAddress(address + pageSize)) == nil)
        // root + PDPT + PD + PT
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == 4)

        var released: [UInt64] = []
        try machine.edit(&table, address..<address + pageSize) { cursor throws(PagingError) in
            try cursor.unmap(length: pageSize) { frame in
                released.append(frame.address.raw)
                machine.frames.releaseFrame(frame)
            }
        }
        #expect(released == [physical])
        #expect(table.query(VirtualAddress(address)) == nil)
        // the emptied PDPT, PD and PT went back; only the root is left
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == 1)
        machine.tearDown(table)
        #expect(machine.frames.freeFrameCount == baseline)
    }

    @Test func cursorRefusesBadRanges() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        func attempt(_ table: inout TestPageTable, _ start: UInt64, _ end: UInt64) -> PagingError? {
            do throws(PagingError) { try machine.edit(&table, start..<end) { _ throws(PagingError) in } } catch { return error }
            return nil
        }
        #expect(attempt(&table, 0x1001, 0x3000) == .misaligned)
        #expect(attempt(&table, 0x2000, 0x2000) == .invalidRange)
        #expect(attempt(&table, 0x0000_8000_0000_0000, 0x0000_8000_0000_1000) == .invalidRange)   // non-canonical
        #expect(attempt(&table, 0x0000_7FFF_FFFF_F000, 0xFFFF_8000_0000_1000) == .invalidRange)   // across the hole
        #expect(attempt(&table, 0x1000, 0x3000) == nil)
        // operations past the cursor's end, misaligned lengths, unrepresentable protections
        var errors: [PagingError] = []
        try machine.edit(&table, 0x1000..<0x3000) { cursor throws(PagingError) in
            do throws(PagingError) { try cursor.unmap(length: 3 * pageSize) { machine.frames.releaseFrame($0) } } catch { errors.append(error) }
            do throws(PagingError) { try cursor.protect(length: 100, .kernelReadOnly) } catch { errors.append(error) }
            do throws(PagingError) { try cursor.protect(length: pageSize, [.write]) } catch { errors.append(error) }
            do throws(PagingError) { try cursor.jump(to: VirtualAddress(0x3000)) } catch { errors.append(error) }
            do throws(PagingError) {
                try cursor.mapPhysical(PhysicalAddress(0x1234), length: pageSize, size: .size4KiB, .kernelReadOnly)
            } catch { errors.append(error) }
        }
        #expect(errors == [.outsideCursorRange, .misaligned, .unsupportedProtection, .outsideCursorRange, .misaligned])
        machine.tearDown(table)
    }

    @Test func mapOverAnExistingMappingIsRefusedAndChangesNothing() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        let address: UInt64 = 0x40_0000
        try machine.mapFreshPage(&table, at: address, .kernelReadWrite)
        let before = PageTableSnapshot(memory: machine.memory, root: table.root)
        let allocatedBefore = machine.frames.allocatedFrameCount

        #expect(throws: PagingError.alreadyMapped) { try machine.mapFreshPage(&table, at: address, .kernelReadOnly) }
        #expect(throws: PagingError.alreadyMapped) {
            try machine.edit(&table, address - pageSize..<address + pageSize) { cursor throws(PagingError) in
                try cursor.mapPhysical(PhysicalAddress(0x10_0000), length: 2 * pageSize, size: .size4KiB, .kernelReadOnly)
            }
        }
        #expect(PageTableSnapshot(memory: machine.memory, root: table.root) == before)
        #expect(machine.frames.allocatedFrameCount == allocatedBefore, "the refused frame was released")
        machine.tearDown(table)
    }

    @Test func protectKeepsAccessedAndDirtyBitsAndAddress() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        let address: UInt64 = 0x7000_0000
        let physical = try machine.mapFreshPage(&table, at: address, .kernelReadWrite)
        machine.mmu.cr3 = table.root
        #expect(machine.mmu.access(VirtualAddress(address), .write, .supervisor) == .success(PhysicalAddress(physical)))
        try machine.edit(&table, address..<address + pageSize) { cursor throws(PagingError) in
            try cursor.protect(length: pageSize, .kernelReadOnly)
        }
        let foundLeaf = table.tree.findLeaf(address)
        let leaf = try #require(foundLeaf)
        #expect(leaf.entry.raw & PageTableEntry.accessed != 0)
        #expect(leaf.entry.raw & PageTableEntry.dirty != 0)
        #expect(leaf.entry.address(at: .pageTable).raw == physical)
        #expect(leaf.entry.ownsFrame)
        #expect(table.query(VirtualAddress(address))?.protection == .kernelReadOnly)
        #expect(machine.mmu.access(VirtualAddress(address), .write, .supervisor) == .pageFault([.present, .write]))
        #expect(machine.mmu.staleReports.isEmpty)
        machine.tearDown(table)
    }

    // MARK: Random sequences against a reference model

    @Test(arguments: [0x5EED_0001, 0x5EED_0002] as [UInt64])
    func randomMapUnmapProtectMatchesReferenceModel(seed: UInt64) throws {
        let machine = PagingMachine()
        let mmu = machine.mmu
        let baseline = machine.frames.freeFrameCount
        var random = SplitMix64(seed: seed)
        var table = try machine.newTable()
        mmu.cr3 = table.root

        // 8 MiB straddling the 512 GiB line: two PML4 slots, two PDPTs, several PDs and PTs.
        let windowStart: UInt64 = (512 << 30) - (4 << 20)
        let windowPages: UInt64 = 2048
        let protections: [PageProtection] = [.kernelReadOnly, .kernelReadWrite, .kernelCode, .userReadOnly,
                                             .userReadWrite, .userCode, [.read, .write, .execute, .user],
                                             [.read, .write, .execute], [.read, .write, .global]]
        var model: [UInt64: (frame: UInt64, protection: PageProtection)] = [:]
        let accesses: [(AccessKind, PrivilegeMode)] = [(.read, .user), (.write, .user), (.execute, .user),
                                                       (.read, .supervisor), (.write, .supervisor),
                                                       (.execute, .supervisor)]

        func check(_ table: borrowing TestPageTable, page: UInt64) {
            let address = windowStart + page * pageSize
            let offset = UInt64.random(in: 0..<pageSize / 8, using: &random) * 8
            let expected = model[page]
            for (kind, mode) in accesses {
                let actual = mmu.access(VirtualAddress(address + offset), kind, mode)
                let wanted = expectedAccess(expected, offset: offset, kind, mode, mmu)
                #expect(actual == wanted, "page \(page) \(kind) \(mode): got \(actual), want \(wanted)")
            }
            #expect(table.translate(VirtualAddress(address + offset))?.raw == expected.map { $0.frame + offset })
        }

        func expectedTableCount() -> Int {
            let addresses = model.keys.map { windowStart + $0 * pageSize }
            return 1 + Set(addresses.map { $0 >> PagingLevel.pml4.shift }).count
                + Set(addresses.map { $0 >> PagingLevel.pageDirectoryPointer.shift }).count
                + Set(addresses.map { $0 >> PagingLevel.pageDirectory.shift }).count
        }

        let steps = 2500
        let fullCheckInterval = 250
        for step in 0..<steps {
            mmu.writeProtect = Bool.random(using: &random)
            mmu.smep = Bool.random(using: &random)
            mmu.smap = Bool.random(using: &random)
            mmu.alignmentCheck = Bool.random(using: &random)
            // mostly short ranges; now and then a long one, so whole tables empty and are freed
            let longestRange: UInt64 = UInt64.random(in: 0..<20, using: &random) == 0 ? 1024 : 64
            let first = UInt64.random(in: 0..<windowPages, using: &random)
            let count = UInt64.random(in: 1...min(longestRange, windowPages - first), using: &random)
            let start = windowStart + first * pageSize
            let end = start + count * pageSize
            let protection = protections.randomElement(using: &random)!

            switch UInt64.random(in: 0..<10, using: &random) {
            case 0..<4:
                let conflict = (first..<first + count).first { model[$0] != nil }
                do throws(PagingError) {
                    try machine.edit(&table, start..<end) { cursor throws(PagingError) in
                        for page in first..<first + count {
                            let frame = machine.frames.allocateFrame(kind: .user)!
                            let physical = frame.address.raw
                            try cursor.map(frame, protection)
                            model[page] = (physical, protection)
                        }
                    }
                    #expect(conflict == nil)
                } catch {
                    #expect(error == .alreadyMapped)
                    #expect(conflict != nil && model[conflict!] != nil)
                }
            case 4..<7:
                var expectedFrames = Set((first..<first + count).compactMap { model[$0]?.frame })
                try machine.edit(&table, start..<end) { cursor throws(PagingError) in
                    try cursor.unmap(length: end - start) { frame in
                        #expect(expectedFrames.remove(frame.address.raw) != nil, "unexpected frame handed back")
                        machine.frames.releaseFrame(frame)
                    }
                }
                #expect(expectedFrames.isEmpty, "frames not handed back: \(expectedFrames)")
                for page in first..<first + count { model[page] = nil }
            default:
                try machine.edit(&table, start..<end) { cursor throws(PagingError) in
                    try cursor.protect(length: end - start, protection)
                }
                for page in first..<first + count where model[page] != nil { model[page]!.protection = protection }
            }

            for page in first..<first + count { check(table, page: page) }
            for _ in 0..<16 { check(table, page: UInt64.random(in: 0..<windowPages, using: &random)) }
            if step % fullCheckInterval == 0 {
                for page in 0..<windowPages { check(table, page: page) }
            }
            #expect(machine.frames.allocatedFrameCount(of: .pageTable) == expectedTableCount(),
                    "step \(step): page-table pages leaked or freed too early")
            #expect(mmu.staleReports.isEmpty, "step \(step): \(mmu.staleReports.prefix(3))")
            if !mmu.staleReports.isEmpty || machine.frames.allocatedFrameCount(of: .pageTable) != expectedTableCount() {
                break
            }
        }
        #expect(machine.userFrames == model.count)
        mmu.cr3 = PhysicalAddress(0)
        machine.tearDown(table)
        #expect(machine.frames.freeFrameCount == baseline)
    }

    // MARK: Allocation failures roll back

    /// For each allocation the operation makes, fails exactly that one and
    /// checks the tables are bit-for-bit as before and no frame is out.
    @Test func mapRollsBackWhenAnyPageTableAllocationFails() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        // a mapping elsewhere, so existing tables are in play too
        try machine.mapFreshPage(&table, at: 0x1000, .kernelReadWrite)
        let address: UInt64 = (512 << 30) + (1 << 30) + (2 << 20)   // new PML4 slot: PDPT, PD, PT needed
        let neededTables = 3
        for failing in 1...neededTables {
            let before = PageTableSnapshot(memory: machine.memory, root: table.root)
            let allocatedBefore = machine.frames.allocatedFrameCount
            var frame = machine.frames.allocateFrame(kind: .user)
            machine.frames.failAllocation(number: failing)
            var failure: PagingError? = nil
            do throws(PagingError) {
                try machine.edit(&table, address..<address + pageSize) { cursor throws(PagingError) in
                    try cursor.map(frame.take()!, .userReadWrite)
                }
            } catch { failure = error }
            #expect(failure == .outOfMemory)
            #expect(PageTableSnapshot(memory: machine.memory, root: table.root) == before, "allocation \(failing)")
            #expect(machine.frames.allocatedFrameCount == allocatedBefore, "allocation \(failing): leak")
        }
        let tablesBefore = machine.frames.allocatedFrameCount(of: .pageTable)
        try machine.mapFreshPage(&table, at: address, .userReadWrite)
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == tablesBefore + neededTables)
        machine.tearDown(table)
    }

    @Test func rangeMapRollsBackWhenAnyPageTableAllocationFails() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        try machine.mapFreshPage(&table, at: 0x1000, .kernelReadWrite)
        // 4 pages across the 512 GiB line: below it a PD and a PT under the
        // existing PDPT of slot 0; above it a PDPT, a PD and a PT in slot 1
        let boundary: UInt64 = 512 << 30
        let range = boundary - 2 * pageSize..<boundary + 2 * pageSize
        let neededTables = 5
        func mapRange(_ table: inout TestPageTable) throws(PagingError) {
            try machine.edit(&table, range) { cursor throws(PagingError) in
                try cursor.mapPhysical(PhysicalAddress(0x20_0000), length: 4 * pageSize, size: .size4KiB, .kernelReadWrite)
            }
        }
        for failing in 1...neededTables {
            let before = PageTableSnapshot(memory: machine.memory, root: table.root)
            let allocatedBefore = machine.frames.allocatedFrameCount
            machine.frames.failAllocation(number: failing)
            #expect(throws: PagingError.outOfMemory) { try mapRange(&table) }
            #expect(PageTableSnapshot(memory: machine.memory, root: table.root) == before, "allocation \(failing)")
            #expect(machine.frames.allocatedFrameCount == allocatedBefore, "allocation \(failing): leak")
        }
        let tablesBefore = machine.frames.allocatedFrameCount(of: .pageTable)
        try mapRange(&table)
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == tablesBefore + neededTables)
        #expect(table.translate(VirtualAddress(boundary + 0x10))?.raw == 0x20_0000 + 2 * pageSize + 0x10)
        machine.tearDown(table)
    }

    @Test func creatingAddressSpacesRollsBackOnAllocationFailure() throws {
        let machine = PagingMachine()
        let baseline = machine.frames.allocatedFrameCount
        let kernelSlots = 255..<512
        for failing in 1...(1 + kernelSlots.count) {
            machine.frames.failAllocation(number: failing)
            #expect(throws: PagingError.outOfMemory) { _ = try machine.newTable(pinnedSlots: kernelSlots) }
            #expect(machine.frames.allocatedFrameCount == baseline)
        }
        var kernel = try machine.newTable(pinnedSlots: kernelSlots)
        let afterKernel = machine.frames.allocatedFrameCount
        machine.frames.failAllocation(number: 1)
        #expect(throws: PagingError.outOfMemory) { _ = try TestPageTable(sharingKernelHalfOf: kernel) }
        #expect(machine.frames.allocatedFrameCount == afterKernel)
        try machine.edit(&kernel, 0x1000..<0x2000) { _ throws(PagingError) in }
        machine.tearDown(kernel)
        #expect(machine.frames.allocatedFrameCount == baseline)
    }

    // MARK: Teardown, kernel-half sharing

    @Test func teardownReturnsEveryFrameAndSparesTheSharedKernelHalf() throws {
        let machine = PagingMachine()
        let baseline = machine.frames.freeFrameCount
        let kernelHalf = 255..<512   // README: slot 255 image and heap, 256 direct map
        var kernel = try machine.newTable(pinnedSlots: kernelHalf)
        let directMap: UInt64 = 0xFFFF_8000_0000_0000
        try machine.edit(&kernel, directMap..<directMap + (1 << 30) + (4 << 20)) { cursor throws(PagingError) in
            try cursor.mapPhysical(PhysicalAddress(0), length: 1 << 30, size: .size1GiB, .kernelReadWrite)
            try cursor.mapPhysical(PhysicalAddress(1 << 30), length: 4 << 20, size: .size2MiB, .kernelReadWrite)
        }
        var user = try TestPageTable(sharingKernelHalfOf: kernel)
        // a kernel mapping made after the user space exists is visible there (shared PDPT)
        let lateKernelPage: UInt64 = 0xFFFF_8080_0000_0000 + 0x5000
        let latePhysical = try machine.mapFreshPage(&kernel, at: lateKernelPage, .kernelReadWrite)
        #expect(user.translate(VirtualAddress(lateKernelPage))?.raw == latePhysical)
        #expect(user.translate(VirtualAddress(directMap + 0x1234_5678))?.raw == 0x1234_5678)

        // the user space cannot edit the shared half
        #expect(throws: PagingError.outsideOwnedRange) {
            try machine.edit(&user, directMap..<directMap + pageSize) { _ throws(PagingError) in }
        }
        #expect(throws: PagingError.outsideOwnedRange) {
            try machine.edit(&user, 0x0000_7FFF_FFFF_0000..<0x0000_8000_0000_0000) { _ throws(PagingError) in }
        }
        for page in 0..<UInt64(40) { try machine.mapFreshPage(&user, at: 0x40_0000 + page * pageSize, .userReadWrite) }
        try machine.mapFreshPage(&user, at: 0x0000_7F7F_FFFF_F000, .userReadOnly)   // top of slot 254
        try machine.edit(&user, 0x8000_0000..<0x8020_0000) { cursor throws(PagingError) in
            try cursor.mapPhysical(PhysicalAddress(0x20_0000), length: 2 << 20, size: .size2MiB, .userReadOnly)
        }

        // unmapping the kernel page empties its PD and PT, but the pinned PDPT stays
        try machine.edit(&kernel, lateKernelPage..<lateKernelPage + pageSize) { cursor throws(PagingError) in
            try cursor.unmap(length: pageSize) { machine.frames.releaseFrame($0) }
        }
        #expect(user.translate(VirtualAddress(lateKernelPage)) == nil)
        let kernelBefore = PageTableSnapshot(memory: machine.memory, root: kernel.root)
        let kernelTables = 1 + kernelHalf.count + 1  // root, pinned PDPTs, the direct map's PD
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) > kernelTables)

        machine.tearDown(user)
        #expect(machine.userFrames == 0, "every user frame handed back (the zero frame stays)")
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == kernelTables)
        #expect(PageTableSnapshot(memory: machine.memory, root: kernel.root) == kernelBefore)
        machine.tearDown(kernel)
        #expect(machine.frames.freeFrameCount == baseline)
    }

    // MARK: Large pages

    @Test func largePagesTranslateQueryAndRefuseToBeSplit() throws {
        let machine = PagingMachine()
        let mmu = machine.mmu
        var table = try machine.newTable()
        let twoMiB: UInt64 = 2 << 20, oneGiB: UInt64 = 1 << 30
        let smallVA: UInt64 = 0x0000_0001_0020_0000, smallPA: UInt64 = 0x0060_0000
        let hugeVA: UInt64 = 0x0000_0080_4000_0000, hugePA: UInt64 = 0x4000_0000
        try machine.edit(&table, smallVA..<smallVA + twoMiB) { cursor throws(PagingError) in
            try cursor.mapPhysical(PhysicalAddress(smallPA), length: twoMiB, size: .size2MiB, .userReadWrite)
        }
        try machine.edit(&table, hugeVA..<hugeVA + oneGiB) { cursor throws(PagingError) in
            try cursor.mapPhysical(PhysicalAddress(hugePA), length: oneGiB, size: .size1GiB, .kernelCode)
        }
        #expect(table.translate(VirtualAddress(smallVA + 0x1_2345))?.raw == smallPA + 0x1_2345)
        #expect(table.translate(VirtualAddress(hugeVA + 0x1234_5678))?.raw == hugePA + 0x1234_5678)
        #expect(table.query(VirtualAddress(smallVA + twoMiB - 1))?.size == .size2MiB)
        #expect(table.query(VirtualAddress(hugeVA + 77))?.size == .size1GiB)
        #expect(table.query(VirtualAddress(hugeVA))?.ownsFrame == false)
        #expect(table.query(VirtualAddress(smallVA + twoMiB)) == nil)
        // root, PDPT (slot 0) + PD for the 2 MiB page; PDPT (slot 1) for the 1 GiB page
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == 4)

        mmu.cr3 = table.root
        mmu.smap = true
        #expect(mmu.access(VirtualAddress(smallVA + 0x1_0008), .write, .user) == .success(PhysicalAddress(smallPA + 0x1_0008)))
        #expect(mmu.cachedTranslation(for: VirtualAddress(smallVA + 0x1F_F000))?.pageBytes == twoMiB)
        #expect(mmu.access(VirtualAddress(smallVA + 8), .write, .supervisor) == .pageFault([.present, .write]), "SMAP")
        #expect(mmu.access(VirtualAddress(hugeVA + 0x3000_0000), .execute, .supervisor)
                == .success(PhysicalAddress(hugePA + 0x3000_0000)))
        #expect(mmu.cachedTranslation(for: VirtualAddress(hugeVA + 0x3000_1000))?.pageBytes == oneGiB)
        #expect(mmu.access(VirtualAddress(hugeVA + 8), .write, .supervisor) == .pageFault([.present, .write]))
        #expect(mmu.access(VirtualAddress(hugeVA + 8), .read, .user) == .pageFault([.present, .user]))

        // cutting a large page is refused before anything changes
        let before = PageTableSnapshot(memory: machine.memory, root: table.root)
        #expect(throws: PagingError.splitsLargePage) {
            try machine.edit(&table, smallVA..<smallVA + twoMiB) { cursor throws(PagingError) in
                try cursor.unmap(length: pageSize) { machine.frames.releaseFrame($0) }
            }
        }
        #expect(throws: PagingError.splitsLargePage) {
            try machine.edit(&table, smallVA..<smallVA + twoMiB) { cursor throws(PagingError) in
                try cursor.jump(to: VirtualAddress(smallVA + pageSize))
                try cursor.protect(length: twoMiB - pageSize, .userReadOnly)
            }
        }
        #expect(throws: PagingError.splitsLargePage) {
            try machine.edit(&table, hugeVA..<hugeVA + oneGiB) { cursor throws(PagingError) in
                try cursor.unmap(length: twoMiB) { machine.frames.releaseFrame($0) }
            }
        }
        // a 4 KiB page inside a large page, a large page over a table, misaligned large pages
        #expect(throws: PagingError.alreadyMapped) { try machine.mapFreshPage(&table, at: hugeVA + twoMiB, .kernelReadWrite) }
        #expect(throws: PagingError.misaligned) {
            try machine.edit(&table, 0x4000_0000..<0x4040_0000) { cursor throws(PagingError) in
                try cursor.mapPhysical(PhysicalAddress(0x1000), length: twoMiB, size: .size2MiB, .kernelReadWrite)
            }
        }
        #expect(throws: PagingError.misaligned) {
            try machine.edit(&table, 0x4000_1000..<0x4040_0000) { cursor throws(PagingError) in
                try cursor.mapPhysical(PhysicalAddress(0x20_0000), length: twoMiB, size: .size2MiB, .kernelReadWrite)
            }
        }
        #expect(PageTableSnapshot(memory: machine.memory, root: table.root) == before)

        // whole large pages protect and unmap with one invalidation each
        mmu.resetCounters()
        try machine.edit(&table, smallVA..<smallVA + twoMiB) { cursor throws(PagingError) in
            try cursor.protect(length: twoMiB, .userReadOnly)
        }
        #expect(mmu.invalidatePageCount == 1)
        #expect(mmu.access(VirtualAddress(smallVA + 0x1_0008), .write, .user) == .pageFault([.present, .write, .user]))
        try machine.edit(&table, smallVA..<smallVA + twoMiB) { cursor throws(PagingError) in
            try cursor.unmap(length: twoMiB) { machine.frames.releaseFrame($0) }
        }
        try machine.edit(&table, hugeVA..<hugeVA + oneGiB) { cursor throws(PagingError) in
            try cursor.unmap(length: oneGiB) { machine.frames.releaseFrame($0) }
        }
        #expect(mmu.access(VirtualAddress(hugeVA + 0x3000_0000), .execute, .supervisor) == .pageFault(.instructionFetch))
        #expect(mmu.staleReports.isEmpty)
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == 1)
        mmu.cr3 = PhysicalAddress(0)
        machine.tearDown(table)
    }
}
