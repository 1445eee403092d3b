import Testing
@testable import KernelCore
import FakeMMU

/// PageTable.edit must pay the cursor's TLB debt on the error path too.
@Suite struct PageTableEditTests {
    @Test func flushesWhatTheBodyChangedEvenWhenItThrows() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        let address: UInt64 = 0x40_0000
        let physical = try machine.mapFreshPage(&table, at: address, .userReadWrite)
        machine.mmu.cr3 = table.root
        // Cache a writable translation in the TLB.
        #expect(machine.mmu.access(VirtualAddress(address), .write, .user) == .success(PhysicalAddress(physical)))

        let page = VirtualAddress(address)..<VirtualAddress(address + pageSize)
        #expect(throws: PagingError.alreadyMapped) {
            try table.edit(page, flushingWith: machine.mmu) { (cursor) throws(PagingError) in
                try cursor.protect(length: pageSize, .userReadOnly)
                throw .alreadyMapped  // any failure after a change
            }
        }
        // The protect was flushed: the write faults, and no stale entry was used.
        #expect(machine.mmu.access(VirtualAddress(address), .write, .user) == .pageFault([.present, .write, .user]))
        #expect(machine.mmu.staleReports.isEmpty)
        table.tearDown { machine.frames.releaseFrame($0) }
    }

    @Test func returnsTheBodysResult() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        let page = VirtualAddress(0x40_0000)..<VirtualAddress(0x40_1000)
        let mapped = try table.edit(page, flushingWith: machine.mmu) { (cursor) throws(PagingError) -> Bool in
            try cursor.map(machine.frames.allocateFrame(kind: .user)!, .userReadOnly)
            return true
        }
        #expect(mapped)
        #expect(table.query(VirtualAddress(0x40_0000)) != nil)
        table.tearDown { machine.frames.releaseFrame($0) }
    }
}
