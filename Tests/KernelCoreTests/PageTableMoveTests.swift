// Host tests of PageTableCursor.move (Kernel/Arch/x86_64/Paging/
// PageTableCursor+Move.swift, PageTableTree+Move.swift) on a bare table:
// a randomized comparison with a model (page -> frame), where after every
// move the table must translate exactly as the model says, every frame
// keeps one reference and one map count, the TLB model finds no stale
// entry (the pages were accessed before they moved), and the table holds
// exactly as many page-table pages as a table built afresh with the same
// leaves: so the plan's count was exact and nothing empty was left behind.
// Plus the refusals, each leaving the table unchanged.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct PageTableMoveTests {
    /// An 8 MiB window across a 1 GiB boundary (so PDs come and go as well as PTs).
    static let windowStart: UInt64 = (1 << 30) - (4 << 20)
    static let windowPages: UInt64 = 2048

    /// The number of page-table pages a fresh table with `model`'s leaves has.
    static func freshTableCount(_ model: [UInt64: UInt64], _ machine: PagingMachine) throws -> Int {
        let before = machine.frames.allocatedFrameCount(of: .pageTable)
        var table = try machine.newTable()
        for page in model.keys.sorted() {
            try machine.edit(&table, page..<page + pageSize) { cursor throws(PagingError) in
                try cursor.map(machine.frames.shareFrame(at: PhysicalAddress(model[page]!)), .userReadWrite)
            }
        }
        let count = machine.frames.allocatedFrameCount(of: .pageTable) - before
        machine.tearDown(table)
        return count
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func randomMovesMatchTheModel(seed: UInt64) throws {
        let machine = PagingMachine()
        let baseline = machine.frames.allocatedFrameCount
        var table = try machine.newTable()
        machine.mmu.cr3 = table.root
        var random = SplitMix64(seed: seed)
        var model: [UInt64: UInt64] = [:]   // virtual page address -> frame
        for _ in 0..<300 {
            let page = Self.windowStart + (random.next() % Self.windowPages) * pageSize
            guard model[page] == nil else { continue }
            model[page] = try machine.mapFreshPage(&table, at: page, .userReadWrite)
        }
        for step in 0..<60 {
            let length = (1 + random.next() % 700) * pageSize
            let source = Self.windowStart + (random.next() % Self.windowPages) * pageSize
            var delta = (random.next() % (2 * Self.windowPages)) * pageSize
            if random.next() % 2 == 0 { delta &= ~((2 << 20) - 1) }   // keep 2 MiB alignment: whole tables
            let destination = random.next() % 2 == 0 ? source + delta : source &- delta
            guard delta >= length, destination >= pageSize, destination < (1 << 40) - length else { continue }
            let moving = model.filter { $0.key >= source && $0.key < source + length }
            let blocked = model.keys.contains { $0 >= destination && $0 < destination + length }
            for page in model.keys { _ = machine.mmu.access(VirtualAddress(page), .read, .user) }   // warm the TLB
            let low = min(source, destination), high = max(source, destination) + length
            do throws(PagingError) {
                try machine.edit(&table, low..<high) { cursor throws(PagingError) in
                    try cursor.jump(to: VirtualAddress(source))
                    try cursor.move(length: length, to: VirtualAddress(destination))
                }
                #expect(!blocked, "step \(step): moved onto mapped pages: 0x\(String(source, radix: 16)) +0x\(String(length, radix: 16)) -> 0x\(String(destination, radix: 16)) \(model.keys.filter { $0 >= destination && $0 < destination + length }.map { String($0, radix: 16) })")
                for page in moving.keys { model[page] = nil }
                for (page, frame) in moving { model[page - source + destination] = frame }
            } catch {
                #expect(blocked && error == .alreadyMapped, "step \(step): \(error)")
            }
            for (page, frame) in model {
                #expect(table.translate(VirtualAddress(page))?.raw == frame, "step \(step): page 0x\(String(page, radix: 16))")
                #expect(machine.frames.referenceCount(of: PhysicalAddress(frame)) == 1
                        && machine.frames.mapCount(of: PhysicalAddress(frame)) == 1, "step \(step): counts")
                #expect(machine.mmu.access(VirtualAddress(page), .read, .user) == .success(PhysicalAddress(frame)))
            }
            for page in moving.keys where model[page] == nil {
                #expect(machine.mmu.access(VirtualAddress(page), .read, .user) == .pageFault([.user]),
                        "step \(step): the old place is flushed")
            }
            var leaves = 0
            table.forEachLeaf(in: VirtualAddress(0)..<VirtualAddress(1 << 40)) { _, _ in leaves += 1 }
            #expect(leaves == model.count, "step \(step): leaves")
            let tables = machine.frames.allocatedFrameCount(of: .pageTable)
            let fresh = try Self.freshTableCount(model, machine)
            #expect(tables == fresh, "step \(step): page-table pages")
            #expect(machine.mmu.staleReports.isEmpty, "step \(step): \(machine.mmu.staleReports)")
        }
        machine.mmu.cr3 = PhysicalAddress(0)
        machine.tearDown(table)
        #expect(machine.frames.allocatedFrameCount == baseline, "every frame came back")
    }

    @Test func refusalsChangeNothing() throws {
        let machine = PagingMachine()
        var table = try machine.newTable()
        let base: UInt64 = 0x4000_0000
        for index in 0..<4 as Range<UInt64> { try machine.mapFreshPage(&table, at: base + index * pageSize, .userReadWrite) }
        let snapshot = PageTableSnapshot(memory: machine.memory, root: table.root)
        func attempt(_ table: inout TestPageTable, _ length: UInt64, to destination: UInt64) -> PagingError? {
            do throws(PagingError) {
                try machine.edit(&table, base..<base + (64 << 20)) { cursor throws(PagingError) in
                    try cursor.move(length: length, to: VirtualAddress(destination))
                }
            } catch {
                return error
            }
            return nil
        }
        #expect(attempt(&table, 4 * pageSize, to: base + 2 * pageSize) == .invalidRange, "overlapping")
        #expect(attempt(&table, 2 * pageSize, to: base + pageSize) == .invalidRange, "overlapping the start")
        #expect(attempt(&table, 2 * pageSize, to: base + 100) == .misaligned)
        #expect(attempt(&table, 3 * pageSize, to: base + (64 << 20) - pageSize) == .outsideCursorRange)
        #expect(PageTableSnapshot(memory: machine.memory, root: table.root) == snapshot, "nothing changed")
        // A destination slot taken: refused before any change.
        let far = base + (8 << 20)
        try machine.mapFreshPage(&table, at: far + pageSize, .userReadWrite)
        let taken = PageTableSnapshot(memory: machine.memory, root: table.root)
        #expect(attempt(&table, 4 * pageSize, to: far) == .alreadyMapped)
        #expect(PageTableSnapshot(memory: machine.memory, root: table.root) == taken, "nothing changed")
        // Out of memory for the destination's tables: refused before any change.
        machine.frames.failAllocation(number: 1)
        #expect(attempt(&table, 4 * pageSize, to: base + (40 << 20) + pageSize) == .outOfMemory)
        #expect(PageTableSnapshot(memory: machine.memory, root: table.root) == taken, "nothing changed")
        machine.tearDown(table)
    }
}
