// Host tests of fork (eager copy) and teardown of the user address space.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceForkTests {
    static let base: UInt64 = 0x4000_0000

    /// A parent with data in a RW region, a read-only region, a PROT_NONE
    /// region, a stack and a heap.
    static func populate(_ space: inout TestSpace, _ machine: PagingMachine) throws {
        try space.mapFixed(base, pages: 3, .readWrite, tlb: machine.mmu)
        try space.mapFixed(base + 4 * pageSize, pages: 1, .readExecute, kind: .image, tlb: machine.mmu)
        try space.mapFixed(base + 5 * pageSize, pages: 2, .noAccess, tlb: machine.mmu)
        let stack = UserMemoryLayout.stackRange
        _ = try space.map(MapRequest(address: stack.lowerBound, length: TestSpace.stackSize, protection: .readWrite,
                                     kind: .stack, fixed: true), tlb: machine.mmu)
        space.setInitialBreak(VirtualAddress(0x60_0000))
        _ = space.setBreak(VirtualAddress(0x60_0000 + pageSize + 1), tlb: machine.mmu)
        for index in 0..<3 as Range<UInt64> { machine.userStore(0x1000 + index, at: base + index * pageSize) }
        try withUnsafeBytes(of: UInt64(0xC0DE)) { try space.write($0, at: VirtualAddress(base + 4 * pageSize)) }
        machine.userStore(0x57AC, at: TestSpace.stackTop.raw - 8)
        machine.userStore(0x4EA9, at: 0x60_1000)
    }

    @Test func childHasTheSameRegionsAndBreakAndACopyOfEveryPage() throws {
        try withSpace { space, kernel, machine in
            try Self.populate(&space, machine)
            let parentRegions = space.regions
            let parentRoot = space.table.root
            let parentPages = space.residentPages
            try withFork(of: space, kernel: kernel, machine) { child in
                #expect(child.regions == parentRegions)
                #expect(child.breakStart == space.breakStart && child.breakEnd == space.breakEnd)
                #expect(child.residentPages == parentPages)
                #expect(machine.userFrames == 2 * parentPages)
                for region in parentRegions where region.protection.allowsAccess {
                    var page = region.start.raw
                    while page < region.end.raw {
                        let parentFrame = space.frame(at: page), childFrame = child.frame(at: page)
                        #expect(parentFrame != nil && childFrame != nil && parentFrame != childFrame)
                        #expect(child.table.query(VirtualAddress(page))?.protection
                                == space.table.query(VirtualAddress(page))?.protection)
                        page += pageSize
                    }
                }
                machine.mmu.cr3 = child.table.root
                for index in 0..<3 as Range<UInt64> { #expect(machine.userLoad(Self.base + index * pageSize) == 0x1000 + index) }
                #expect(machine.userLoad(Self.base + 4 * pageSize) == 0xC0DE)
                #expect(machine.userLoad(TestSpace.stackTop.raw - 8) == 0x57AC)
                #expect(machine.userLoad(0x60_1000) == 0x4EA9)
                #expect(machine.mmu.access(VirtualAddress(Self.base + 5 * pageSize), .read, .user) == notPresentUserRead)
                machine.mmu.cr3 = parentRoot
            }
        }
    }

    @Test func writesAreIsolatedBothWays() throws {
        try withSpace { space, kernel, machine in
            try Self.populate(&space, machine)
            let parentRoot = space.table.root
            try withFork(of: space, kernel: kernel, machine) { child in
                #expect(machine.userStore(0xAAAA, at: Self.base))          // parent writes
                machine.mmu.cr3 = child.table.root
                #expect(machine.userLoad(Self.base) == 0x1000)
                #expect(machine.userStore(0xBBBB, at: Self.base + pageSize))  // child writes
                machine.mmu.cr3 = parentRoot
                #expect(machine.userLoad(Self.base + pageSize) == 0x1001)
                #expect(machine.userLoad(Self.base) == 0xAAAA)
                var value: UInt64 = 0
                try withUnsafeMutableBytes(of: &value) { try child.read(into: $0, at: VirtualAddress(Self.base + pageSize)) }
                #expect(value == 0xBBBB)
                try child.unmap(VirtualAddress(Self.base)..<VirtualAddress(Self.base + pageSize), tlb: machine.mmu)
                #expect(machine.userLoad(Self.base) == 0xAAAA, "the child's unmap leaves the parent alone")
            }
            #expect(machine.userLoad(Self.base + 2 * pageSize) == 0x1002, "the child's teardown too")
        }
    }

    @Test func outOfMemoryAtEveryAllocationTearsThePartialChildDown() throws {
        try withSpace { space, kernel, machine in
            try Self.populate(&space, machine)
            let regions = space.regions
            let snapshot = PageTableSnapshot(memory: machine.memory, root: space.table.root)
            let allocated = machine.frames.allocatedFrameCount
            let failures = failEachAllocationInTurn(&space, machine, { (space) throws(VMError) in
                let child = try space.fork(kernel: kernel, tlb: machine.mmu)
                child.tearDown()
            })
            #expect(failures >= space.residentPages, "every page's allocation was failed once")
            #expect(machine.frames.allocatedFrameCount == allocated)
            #expect(space.regions == regions)
            #expect(PageTableSnapshot(memory: machine.memory, root: space.table.root) == snapshot)
        }
    }

    @Test func teardownReturnsEveryFrameAndLeavesTheKernelHalfAlone() throws {
        let machine = PagingMachine()
        var kernel = try machine.newTable(pinnedSlots: kernelHalf)
        let kernelPage: UInt64 = 0xFFFF_8000_0000_0000
        try machine.mapFreshPage(&kernel, at: kernelPage, .kernelReadWrite)
        let kernelSnapshot = PageTableSnapshot(memory: machine.memory, root: kernel.root)
        let baseline = machine.frames.allocatedFrameCount
        do {
            var space = try TestSpace(sharingKernelHalfOf: kernel)
            do {
                try Self.populate(&space, machine)
                #expect(space.table.translate(VirtualAddress(kernelPage)) == kernel.translate(VirtualAddress(kernelPage)),
                        "the kernel half is shared")
                var child = try space.fork(kernel: kernel, tlb: machine.mmu)
                _ = try child.map(MapRequest(length: 5 * pageSize, protection: .readWrite), tlb: machine.mmu)
                #expect(machine.frames.allocatedFrameCount > baseline)
                child.tearDown()
            } catch {
                Issue.record(error)
            }
            space.tearDown()
        } catch {
            Issue.record(error)
        }
        #expect(machine.frames.allocatedFrameCount == baseline)
        #expect(PageTableSnapshot(memory: machine.memory, root: kernel.root) == kernelSnapshot)
        machine.tearDown(kernel)
        #expect(machine.frames.allocatedFrameCount == 0)
    }
}
