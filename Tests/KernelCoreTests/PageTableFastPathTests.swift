import Testing
@testable import KernelCore
import FakeMMU

/// The cursor operations the fault path, fork and exit are built from
/// (PageTableCursor.setLeafProtection, .shareLeaves, PageTable.tearDown(mappedWithin:)),
/// against the fake MMU's TLB model.
@Suite struct PageTableFastPathTests {
    @Test func gainingARightOwesNothingAndLosingOneOwesAnInvalidation() throws {
        let machine = PagingMachine()
        let mmu = machine.mmu
        var table = try machine.newTable()
        let address: UInt64 = 0x40_0000
        let physical = try machine.mapFreshPage(&table, at: address, .userReadOnly)
        mmu.cr3 = table.root
        #expect(mmu.access(VirtualAddress(address), .read, .user) == .success(PhysicalAddress(physical)))
        mmu.resetCounters()

        try machine.edit(&table, address..<address + pageSize) { cursor throws(PagingError) in
            try cursor.setLeafProtection(.userReadWrite)
        }
        #expect(mmu.invalidatePageCount == 0 && mmu.fullFlushCount == 0, "a write-enable owes nothing")
        // The cached read-only entry faults once, which drops it (SDM §4.10.4.1).
        #expect(mmu.access(VirtualAddress(address), .write, .user) == .pageFault([.present, .write, .user]))
        #expect(mmu.access(VirtualAddress(address), .write, .user) == .success(PhysicalAddress(physical)))

        try machine.edit(&table, address..<address + pageSize) { cursor throws(PagingError) in
            try cursor.setLeafProtection(.userReadOnly)
        }
        #expect(mmu.invalidatePageCount == 1, "a write-protect owes an invlpg")
        #expect(mmu.access(VirtualAddress(address), .write, .user) == .pageFault([.present, .write, .user]))
        #expect(mmu.staleReports.isEmpty)
        #expect(throws: PagingError.invalidRange) {
            try machine.edit(&table, address + pageSize..<address + 2 * pageSize) { cursor throws(PagingError) in
                try cursor.setLeafProtection(.userReadWrite)
            }
        }
        mmu.cr3 = PhysicalAddress(0)
        machine.tearDown(table)
    }

    @Test func shareLeavesCopiesWriteProtectedAndCountsEachFrameOnce() throws {
        let machine = PagingMachine()
        let mmu = machine.mmu
        var parent = try machine.newTable()
        var child = try machine.newTable()
        // Pages in two page tables, with a gap of whole missing directories.
        let addresses: [UInt64] = [0x40_0000, 0x40_3000, 0x5f_f000, 0x40_0000_0000]
        var physical: [UInt64] = []
        for address in addresses { physical.append(try machine.mapFreshPage(&parent, at: address, .userReadWrite)) }
        let tablesBefore = machine.frames.allocatedFrameCount(of: .pageTable)
        let span = VirtualAddress(0x40_0000)..<VirtualAddress(0x40_0000_1000)
        var copied = 0
        try child.edit(span, flushingWith: mmu) { (childCursor) throws(PagingError) in
            try parent.edit(span, flushingWith: mmu) { (cursor) throws(PagingError) in
                copied = try cursor.shareLeaves(length: span.upperBound.raw - span.lowerBound.raw,
                                                into: &childCursor, clearing: .anonExclusive)
            }
        }
        #expect(copied == addresses.count)
        // The child has exactly the tables its leaves need (no empty ones):
        // PDPT, PD and PT for the first three, another PD and PT for the last.
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == tablesBefore + 5)
        for (address, frame) in zip(addresses, physical) {
            for table in [parent.query(VirtualAddress(address)), child.query(VirtualAddress(address))] {
                #expect(table?.physicalStart.raw == frame && table?.protection == .userReadOnly && table?.ownsFrame == true)
            }
            #expect(machine.frames.referenceCount(of: PhysicalAddress(frame)) == 2)
            #expect(machine.frames.mapCount(of: PhysicalAddress(frame)) == 2)
        }
        child.tearDown(mappedWithin: [span])
        for frame in physical {
            #expect(machine.frames.referenceCount(of: PhysicalAddress(frame)) == 1)
            #expect(machine.frames.mapCount(of: PhysicalAddress(frame)) == 1)
        }
        #expect(machine.frames.allocatedFrameCount(of: .pageTable) == tablesBefore - 1, "the child's root went too")
        machine.tearDown(parent)
        #expect(machine.frames.allocatedFrameCount == 1, "only the zero frame")
    }

    @Test func tearDownWithinRangesFreesEveryTableAndFrame() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        // Two ranges sharing a page table, and one far away.
        let ranges = [VirtualAddress(0x40_0000)..<VirtualAddress(0x40_2000),
                      VirtualAddress(0x40_5000)..<VirtualAddress(0x60_1000),
                      VirtualAddress(0x7f7f_ffff_e000)..<VirtualAddress(0x7f7f_ffff_f000)]
        for address: UInt64 in [0x40_0000, 0x40_1000, 0x40_5000, 0x60_0000, 0x7f7f_ffff_e000] {
            try machine.mapFreshPage(&table, at: address, .userReadWrite)
        }
        #expect(machine.frames.allocatedFrameCount > 0)
        table.tearDown(mappedWithin: ranges)
        #expect(machine.frames.allocatedFrameCount == 1, "only the zero frame")
    }
}
