// Host tests of the fake MMU itself (Tests/FakeMMU) and of the TLB
// discipline of the page tables as the fake MMU observes it.
//
// The fake MMU is only worth something if it catches what it claims to:
// every #PF rule of SDM vol. 3A §4.6/§4.7 is checked against hand-written
// error codes, and the stale-TLB detector is shown to fire when a flush is
// deliberately skipped, and to stay silent when it is not.

import Testing
@testable import KernelCore
import FakeMMU

/// A machine with a table loaded in CR3 holding one 4 KiB page per protection.
/// ~Copyable because it owns the table; `finish` tears it down.
struct ProtectionFixture: ~Copyable {
    let machine = PagingMachine()
    var table: TestPageTable
    var mmu: FakeMMU { machine.mmu }

    static let kernelData: UInt64 = 0x10_0000
    static let kernelReadOnly: UInt64 = 0x10_1000
    static let kernelCode: UInt64 = 0x10_2000
    static let userData: UInt64 = 0x10_3000
    static let userReadOnly: UInt64 = 0x10_4000
    static let userCode: UInt64 = 0x10_5000
    static let unmapped: UInt64 = 0x10_6000
    var physical: [UInt64: UInt64] = [:]

    init() throws {
        var table = try machine.newTable()
        let pages: [(UInt64, PageProtection)] = [
            (Self.kernelData, .kernelReadWrite), (Self.kernelReadOnly, .kernelReadOnly),
            (Self.kernelCode, .kernelCode), (Self.userData, .userReadWrite),
            (Self.userReadOnly, .userReadOnly), (Self.userCode, .userCode)]
        var physical: [UInt64: UInt64] = [:]
        for (address, protection) in pages {
            physical[address] = try machine.mapFreshPage(&table, at: address, protection)
        }
        machine.mmu.cr3 = table.root
        self.physical = physical
        self.table = table
    }

    func access(_ address: UInt64, _ kind: AccessKind, _ mode: PrivilegeMode) -> AccessResult {
        mmu.access(VirtualAddress(address + 8), kind, mode)
    }
    func ok(_ address: UInt64) -> AccessResult { .success(PhysicalAddress(physical[address]! + 8)) }

    /// The physical address of the entry at `level` on the walk of `address`.
    func entryAddress(_ address: UInt64, level: PagingLevel) -> UInt64 {
        var tableAddress = table.root
        var current = PagingLevel.pml4
        while current != level {
            let entry = table.tree.entry(tableAddress, current.index(of: address))
            tableAddress = entry.address(at: current)
            current = current.next!
        }
        return tableAddress.raw + UInt64(level.index(of: address) * 8)
    }

    func orEntry(_ address: UInt64, level: PagingLevel, _ bits: UInt64) {
        let pointer = machine.memory.pointer(to: PhysicalAddress(entryAddress(address, level: level)))
        pointer.storeBytes(of: pointer.load(as: UInt64.self) | bits, as: UInt64.self)
    }
    func clearEntryBits(_ address: UInt64, level: PagingLevel, _ bits: UInt64) {
        let pointer = machine.memory.pointer(to: PhysicalAddress(entryAddress(address, level: level)))
        pointer.storeBytes(of: pointer.load(as: UInt64.self) & ~bits, as: UInt64.self)
    }

    consuming func finish() {
        mmu.cr3 = PhysicalAddress(0)
        machine.tearDown(table)
    }
}

@Suite("FakeMMU")
struct FakeMMUTests {
    // MARK: #PF error codes, one rule at a time (SDM §4.6, §4.7)

    @Test func notPresentFaultsCarryOnlyTheAccessBits() throws {
        let f = try ProtectionFixture()
        let address = ProtectionFixture.unmapped
        #expect(f.access(address, .read, .supervisor) == .pageFault([]))
        #expect(f.access(address, .write, .supervisor) == .pageFault([.write]))
        #expect(f.access(address, .read, .user) == .pageFault([.user]))
        #expect(f.access(address, .write, .user) == .pageFault([.write, .user]))
        #expect(f.access(address, .execute, .user) == .pageFault([.user, .instructionFetch]))
        f.mmu.noExecuteEnabled = false
        f.mmu.smep = false
        #expect(f.access(address, .execute, .supervisor) == .pageFault([]), "I/D is reported only with NXE or SMEP")
        f.mmu.smep = true
        #expect(f.access(address, .execute, .supervisor) == .pageFault([.instructionFetch]))
        #expect(f.mmu.access(VirtualAddress(0x0000_8000_0000_0000), .read, .supervisor) == .generalProtection)
        f.finish()
    }

    @Test func userModeNeedsUserPagesAndWritablePagesForWrites() throws {
        let f = try ProtectionFixture()
        #expect(f.access(ProtectionFixture.kernelData, .read, .user) == .pageFault([.present, .user]))
        #expect(f.access(ProtectionFixture.kernelData, .write, .user) == .pageFault([.present, .write, .user]))
        #expect(f.access(ProtectionFixture.userData, .write, .user) == f.ok(ProtectionFixture.userData))
        #expect(f.access(ProtectionFixture.userReadOnly, .read, .user) == f.ok(ProtectionFixture.userReadOnly))
        #expect(f.access(ProtectionFixture.userReadOnly, .write, .user) == .pageFault([.present, .write, .user]))
        f.mmu.writeProtect = false
        #expect(f.access(ProtectionFixture.userReadOnly, .write, .user) == .pageFault([.present, .write, .user]),
                "CR0.WP does not matter to user mode")
        f.finish()
    }

    @Test func writeProtectGovernsSupervisorWritesToReadOnlyPages() throws {
        let f = try ProtectionFixture()
        f.mmu.writeProtect = true
        #expect(f.access(ProtectionFixture.kernelReadOnly, .write, .supervisor) == .pageFault([.present, .write]))
        f.mmu.writeProtect = false
        #expect(f.access(ProtectionFixture.kernelReadOnly, .write, .supervisor) == f.ok(ProtectionFixture.kernelReadOnly))
        f.finish()
    }

    @Test func smepForbidsSupervisorFetchesFromUserPages() throws {
        let f = try ProtectionFixture()
        f.mmu.smep = false
        #expect(f.access(ProtectionFixture.userCode, .execute, .supervisor) == f.ok(ProtectionFixture.userCode))
        f.mmu.invalidatePage(VirtualAddress(ProtectionFixture.userCode))
        f.mmu.smep = true
        #expect(f.access(ProtectionFixture.userCode, .execute, .supervisor) == .pageFault([.present, .instructionFetch]))
        #expect(f.access(ProtectionFixture.kernelCode, .execute, .supervisor) == f.ok(ProtectionFixture.kernelCode))
        #expect(f.access(ProtectionFixture.userCode, .execute, .user) == f.ok(ProtectionFixture.userCode))
        f.finish()
    }

    @Test func smapForbidsSupervisorDataAccessToUserPagesUnlessAC() throws {
        let f = try ProtectionFixture()
        f.mmu.smap = true
        f.mmu.alignmentCheck = false
        #expect(f.access(ProtectionFixture.userData, .read, .supervisor) == .pageFault([.present]))
        #expect(f.access(ProtectionFixture.userData, .write, .supervisor) == .pageFault([.present, .write]))
        #expect(f.access(ProtectionFixture.kernelData, .write, .supervisor) == f.ok(ProtectionFixture.kernelData))
        f.mmu.alignmentCheck = true
        #expect(f.access(ProtectionFixture.userData, .read, .supervisor) == f.ok(ProtectionFixture.userData))
        #expect(f.access(ProtectionFixture.userData, .write, .supervisor) == f.ok(ProtectionFixture.userData))
        #expect(f.access(ProtectionFixture.userReadOnly, .write, .supervisor) == .pageFault([.present, .write]),
                "AC lifts SMAP, not WP")
        f.mmu.smap = false
        f.mmu.alignmentCheck = false
        #expect(f.access(ProtectionFixture.userReadOnly, .read, .supervisor) == f.ok(ProtectionFixture.userReadOnly))
        f.finish()
    }

    @Test func noExecuteForbidsFetchesWhenNXEIsOn() throws {
        let f = try ProtectionFixture()
        #expect(f.access(ProtectionFixture.kernelData, .execute, .supervisor) == .pageFault([.present, .instructionFetch]))
        #expect(f.access(ProtectionFixture.userData, .execute, .user)
                == .pageFault([.present, .user, .instructionFetch]))
        #expect(f.access(ProtectionFixture.kernelCode, .execute, .supervisor) == f.ok(ProtectionFixture.kernelCode))
        f.finish()
    }

    @Test func reservedBitsFaultWithRSVD() throws {
        let f = try ProtectionFixture()
        // XD set while EFER.NXE=0: bit 63 is reserved then
        f.mmu.noExecuteEnabled = false
        #expect(f.access(ProtectionFixture.kernelData, .read, .supervisor) == .pageFault([.present, .reservedBit]))
        #expect(f.access(ProtectionFixture.kernelCode, .read, .supervisor) == f.ok(ProtectionFixture.kernelCode))
        f.mmu.noExecuteEnabled = true
        // PS in a PML4 entry is reserved
        f.orEntry(ProtectionFixture.kernelCode, level: .pml4, PageTableEntry.largePage)
        f.mmu.invalidatePage(VirtualAddress(ProtectionFixture.kernelCode))   // the edit's flush
        #expect(f.access(ProtectionFixture.kernelCode, .write, .user) == .pageFault([.present, .write, .user, .reservedBit]))
        f.clearEntryBits(ProtectionFixture.kernelCode, level: .pml4, PageTableEntry.largePage)
        #expect(f.access(ProtectionFixture.kernelCode, .execute, .supervisor) == f.ok(ProtectionFixture.kernelCode))
        // a physical address bit at or above MAXPHYADDR
        f.orEntry(ProtectionFixture.kernelCode, level: .pageTable, 1 << 50)
        f.mmu.invalidatePage(VirtualAddress(ProtectionFixture.kernelCode))
        #expect(f.access(ProtectionFixture.kernelCode, .execute, .supervisor)
                == .pageFault([.present, .reservedBit, .instructionFetch]))
        f.clearEntryBits(ProtectionFixture.kernelCode, level: .pageTable, 1 << 50)
        #expect(f.access(ProtectionFixture.kernelCode, .execute, .supervisor) == f.ok(ProtectionFixture.kernelCode))
        #expect(f.mmu.staleReports.isEmpty)
        f.finish()
    }

    @Test func reservedBitsOfLargePagesFaultWithRSVD() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        let va: UInt64 = 0x4000_0000
        try machine.edit(&table, va..<va + (2 << 20)) { cursor throws(PagingError) in
            try cursor.mapPhysical(PhysicalAddress(0x20_0000), length: 2 << 20, size: .size2MiB, .kernelReadWrite)
        }
        machine.mmu.cr3 = table.root
        let foundLeaf = table.tree.findLeaf(va)
        let leaf = try #require(foundLeaf)
        let pointer = machine.memory.pointer(to: PhysicalAddress(leaf.table.raw + UInt64(leaf.index * 8)))
        let reservedInLargePage: UInt64 = 1 << 13   // bits 20:13 of a 2 MiB leaf
        pointer.storeBytes(of: leaf.entry.raw | reservedInLargePage, as: UInt64.self)
        #expect(machine.mmu.access(VirtualAddress(va), .read, .supervisor) == .pageFault([.present, .reservedBit]))
        pointer.storeBytes(of: leaf.entry.raw, as: UInt64.self)
        #expect(machine.mmu.access(VirtualAddress(va + 0x1234), .read, .supervisor) == .success(PhysicalAddress(0x20_1234)))
        machine.mmu.cr3 = PhysicalAddress(0)
        try machine.edit(&table, va..<va + (2 << 20)) { cursor throws(PagingError) in
            try cursor.unmap(length: 2 << 20) { machine.frames.releaseFrame($0) }
        }
        machine.tearDown(table)
    }

    @Test func rightsCombineOverAllLevels() throws {
        let f = try ProtectionFixture()
        // R/W is ANDed: a read-only PD entry makes the writable leaf read-only
        f.clearEntryBits(ProtectionFixture.userData, level: .pageDirectory, PageTableEntry.writable)
        #expect(f.access(ProtectionFixture.userData, .write, .user) == .pageFault([.present, .write, .user]))
        // U/S is ANDed: a supervisor PDPT entry hides the user leaf from user mode
        f.clearEntryBits(ProtectionFixture.userData, level: .pageDirectoryPointer, PageTableEntry.user)
        #expect(f.access(ProtectionFixture.userData, .read, .user) == .pageFault([.present, .user]))
        // XD is ORed: an XD PML4 entry makes the executable leaf non-executable
        f.orEntry(ProtectionFixture.kernelCode, level: .pml4, PageTableEntry.noExecute)
        #expect(f.access(ProtectionFixture.kernelCode, .execute, .supervisor) == .pageFault([.present, .instructionFetch]))
        f.clearEntryBits(ProtectionFixture.kernelCode, level: .pml4, PageTableEntry.noExecute)
        f.orEntry(ProtectionFixture.userData, level: .pageDirectory, PageTableEntry.writable)
        f.orEntry(ProtectionFixture.userData, level: .pageDirectoryPointer, PageTableEntry.user)
        #expect(f.mmu.staleReports.isEmpty, "nothing was cached for the pages that changed")
        f.finish()
    }

    // MARK: The TLB model

    @Test func cachedTranslationsServeAccessesAndAreDroppedByInvalidation() throws {
        let f = try ProtectionFixture()
        let address = ProtectionFixture.kernelData
        #expect(f.access(address, .read, .supervisor) == f.ok(address))
        #expect(f.mmu.cachedTranslation(for: VirtualAddress(address)) != nil)
        f.mmu.invalidatePage(VirtualAddress(address + 0x800))
        #expect(f.mmu.cachedTranslation(for: VirtualAddress(address)) == nil)
        #expect(f.access(address, .read, .supervisor) == f.ok(address))
        f.mmu.cr3 = f.table.root   // a CR3 write drops non-global entries
        #expect(f.mmu.cachedTranslationCount == 0)
        f.finish()
    }

    @Test func globalEntriesSurviveCR3WritesButNotAGlobalFlush() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        let global: UInt64 = 0x20_0000, local: UInt64 = 0x20_1000
        try machine.mapFreshPage(&table, at: global, [.read, .write, .global])
        try machine.mapFreshPage(&table, at: local, .kernelReadWrite)
        let mmu = machine.mmu
        mmu.cr3 = table.root
        _ = mmu.access(VirtualAddress(global), .read, .supervisor)
        _ = mmu.access(VirtualAddress(local), .read, .supervisor)
        mmu.cr3 = table.root
        #expect(mmu.cachedTranslation(for: VirtualAddress(global))?.global == true)
        #expect(mmu.cachedTranslation(for: VirtualAddress(local)) == nil)
        mmu.flushAll(includingGlobal: false)
        #expect(mmu.cachedTranslation(for: VirtualAddress(global)) != nil)
        mmu.flushAll(includingGlobal: true)
        #expect(mmu.cachedTranslationCount == 0)
        mmu.globalPagesEnabled = false
        _ = mmu.access(VirtualAddress(global), .read, .supervisor)
        mmu.cr3 = table.root
        #expect(mmu.cachedTranslationCount == 0, "without CR4.PGE nothing is global")
        mmu.cr3 = PhysicalAddress(0)
        machine.tearDown(table)
    }

    // MARK: A skipped flush is caught

    @Test func skippedFlushAfterProtectIsReportedAsStale() throws {
        var f = try ProtectionFixture()
        let address = ProtectionFixture.kernelData
        #expect(f.access(address, .write, .supervisor) == f.ok(address))   // cached writable
        var cursor = try f.table.cursor(over: VirtualAddress(address)..<VirtualAddress(address + pageSize))
        try cursor.protect(length: pageSize, .kernelReadOnly)
        cursor.finish().skipBecauseSpaceIsNotLoaded()   // wrong: the space *is* loaded
        // the CPU keeps using the stale writable entry ...
        #expect(f.access(address, .write, .supervisor) == f.ok(address))
        // ... and the fake MMU says so
        #expect(f.mmu.staleReports.count == 1)
        #expect(f.mmu.staleReports.first?.address == address + 8)
        if case .rightsRevoked(let cached, let current) = f.mmu.staleReports.first?.difference {
            #expect(cached.writable && !current.writable)
        } else {
            Issue.record("expected a rights-revoked report, got \(f.mmu.staleReports)")
        }
        f.finish()
    }

    @Test func flushedProtectIsNotStaleAndFaults() throws {
        var f = try ProtectionFixture()
        let address = ProtectionFixture.kernelData
        #expect(f.access(address, .write, .supervisor) == f.ok(address))
        try f.machine.edit(&f.table, address..<address + pageSize) { cursor throws(PagingError) in
            try cursor.protect(length: pageSize, .kernelReadOnly)
        }
        #expect(f.access(address, .write, .supervisor) == .pageFault([.present, .write]))
        #expect(f.mmu.staleReports.isEmpty)
        f.finish()
    }

    @Test func skippedFlushAfterUnmapIsReportedAsStale() throws {
        var f = try ProtectionFixture()
        let address = ProtectionFixture.userData
        #expect(f.access(address, .read, .user) == f.ok(address))
        var cursor = try f.table.cursor(over: VirtualAddress(address)..<VirtualAddress(address + pageSize))
        try cursor.unmap(length: pageSize) { f.machine.frames.releaseFrame($0) }
        cursor.finish().skipBecauseSpaceIsNotLoaded()
        #expect(f.access(address, .read, .user) == f.ok(address), "use after unmap through the stale entry")
        #expect(f.mmu.staleReports.map(\.difference) == [.noLongerMapped])
        f.finish()
    }

    @Test func entryRewrittenBehindTheTLBsBackIsReportedAsStale() throws {
        let f = try ProtectionFixture()
        let address = ProtectionFixture.kernelData
        #expect(f.access(address, .read, .supervisor) == f.ok(address))
        // point the PTE at another frame without any flush
        let otherFrame = f.physical[ProtectionFixture.kernelCode]!
        let entryAddress = f.entryAddress(address, level: .pageTable)
        let pointer = f.machine.memory.pointer(to: PhysicalAddress(entryAddress))
        let original = pointer.load(as: UInt64.self)
        pointer.storeBytes(of: (original & ~PageTableEntry.tableAddressMask) | otherFrame, as: UInt64.self)
        _ = f.access(address, .read, .supervisor)
        #expect(f.mmu.staleReports.map(\.difference)
                == [.differentFrame(cached: f.physical[address]! + 8, current: otherFrame + 8)])
        pointer.storeBytes(of: original, as: UInt64.self)
        f.finish()
    }

    // MARK: Flush batching

    @Test func flushUsesInvlpgUpToTheThresholdThenOneFullFlush() throws {
        let machine = PagingMachine()
        let mmu = machine.mmu
        var table = try machine.newTable()
        let base: UInt64 = 0x60_0000
        let limit = UInt64(PendingFlush.invalidatePageLimit)
        // one page table, kept alive by a sentinel page so that unmaps free no table
        for page in 0...limit + 1 { try machine.mapFreshPage(&table, at: base + page * pageSize, .kernelReadWrite) }
        mmu.cr3 = table.root
        mmu.resetCounters()
        #expect(mmu.invalidatePageCount == 0, "mapping into empty entries owes nothing")

        try machine.edit(&table, base..<base + limit * pageSize) { cursor throws(PagingError) in
            try cursor.protect(length: limit * pageSize, .kernelReadOnly)
        }
        #expect(mmu.invalidatePageCount == Int(limit))
        #expect(mmu.fullFlushCount == 0)

        mmu.resetCounters()
        try machine.edit(&table, base..<base + (limit + 1) * pageSize) { cursor throws(PagingError) in
            try cursor.protect(length: (limit + 1) * pageSize, .kernelCode)
        }
        #expect(mmu.invalidatePageCount == 0)
        #expect(mmu.fullFlushCount == 1)
        #expect(mmu.globalFlushCount == 0)

        // protecting to the same rights changes nothing and owes nothing
        mmu.resetCounters()
        try machine.edit(&table, base..<base + (limit + 1) * pageSize) { cursor throws(PagingError) in
            try cursor.protect(length: (limit + 1) * pageSize, .kernelCode)
        }
        #expect(mmu.invalidatePageCount == 0 && mmu.fullFlushCount == 0)

        // unmap without freeing a table: per-page invalidation
        mmu.resetCounters()
        try machine.edit(&table, base..<base + 3 * pageSize) { cursor throws(PagingError) in
            try cursor.unmap(length: 3 * pageSize) { machine.frames.releaseFrame($0) }
        }
        #expect(mmu.invalidatePageCount == 3 && mmu.fullFlushCount == 0)

        // unmapping the rest frees the page table: a full flush
        mmu.resetCounters()
        try machine.edit(&table, base..<base + (limit + 2) * pageSize) { cursor throws(PagingError) in
            try cursor.unmap(length: (limit + 2) * pageSize) { machine.frames.releaseFrame($0) }
        }
        #expect(mmu.invalidatePageCount == 0 && mmu.fullFlushCount == 1)
        #expect(mmu.staleReports.isEmpty)
        mmu.cr3 = PhysicalAddress(0)
        machine.tearDown(table)
    }

    @Test func changingGlobalEntriesFlushesGlobalEntries() throws {
        let machine = PagingMachine()
        let mmu = machine.mmu
        var table = try machine.newTable()
        let base: UInt64 = 0x60_0000
        let pages = UInt64(PendingFlush.invalidatePageLimit) + 8
        try machine.edit(&table, base..<base + pages * pageSize) { cursor throws(PagingError) in
            try cursor.mapPhysical(PhysicalAddress(0x10_0000), length: pages * pageSize, size: .size4KiB,
                                   [.read, .write, .global])
        }
        mmu.cr3 = table.root
        for page in 0..<pages { _ = mmu.access(VirtualAddress(base + page * pageSize), .write, .supervisor) }
        mmu.resetCounters()
        try machine.edit(&table, base..<base + pages * pageSize) { cursor throws(PagingError) in
            try cursor.protect(length: pages * pageSize, [.read, .global])
        }
        #expect(mmu.fullFlushCount == 1 && mmu.globalFlushCount == 1)
        for page in 0..<pages {
            #expect(mmu.access(VirtualAddress(base + page * pageSize), .write, .supervisor) == .pageFault([.present, .write]))
        }
        #expect(mmu.staleReports.isEmpty)
        mmu.cr3 = PhysicalAddress(0)
        try machine.edit(&table, base..<base + pages * pageSize) { cursor throws(PagingError) in
            try cursor.unmap(length: pages * pageSize) { machine.frames.releaseFrame($0) }
        }
        machine.tearDown(table)
    }
}
