// Host tests of the fault path (Kernel/VM/UserAddressSpace+Fault.swift)
// through the fake CPU (Support/UserCPU.swift): every outcome, demand
// zero and the shared zero page, shared anonymous memory across fork, and
// private file mappings. Copy-on-write is in UserAddressSpaceCopyOnWriteTests.

import Testing
@testable import KernelCore
import FakeMMU

/// A TLB that forgets to invalidate: for provoking stale entries on purpose.
final class ForgetfulTLB: TLBControl {
    func invalidatePage(_ address: VirtualAddress) {}
    func flushAll(includingGlobal: Bool) {}
}

@Suite struct UserAddressSpaceFaultTests {
    static let base: UInt64 = 0x4000_0000
    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }

    @Test func everyUnresolvableOutcome() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 1, .read, tlb: machine.mmu)
            try space.mapFixed(Self.page(1), pages: 1, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.page(2), pages: 1, .noAccess, tlb: machine.mmu)
            // SIGSEGV, SEGV_MAPERR: no region.
            #expect(space.userAccess(Self.page(3), .read, machine) == .fault(.notMapped))
            #expect(space.userAccess(Self.page(0) - 8, .write, machine) == .fault(.notMapped))
            #expect(space.userAccess(0x1000, .read, machine) == .fault(.notMapped), "below mmap_min_addr")
            #expect(space.userAccess(TestSpace.userEnd.raw, .read, machine) == .fault(.notMapped), "the kernel half")
            #expect(space.userAccess(0x8000_0000_0000, .read, machine) == .generalProtection, "non-canonical")
            // SIGSEGV, SEGV_ACCERR: the region forbids the access.
            #expect(space.userAccess(Self.page(0), .write, machine) == .fault(.accessDenied), "write to read-only")
            #expect(space.userAccess(Self.page(0), .execute, machine) == .fault(.accessDenied), "no PROT_EXEC")
            #expect(space.userAccess(Self.page(1), .execute, machine) == .fault(.accessDenied), "rw is not exec")
            for kind in [AccessKind.read, .write, .execute] {
                #expect(space.userAccess(Self.page(2), kind, machine) == .fault(.accessDenied), "PROT_NONE \(kind)")
            }
            #expect(space.residentPages == 0, "no refused fault leaves a leaf")
            // The same refusals on a present leaf (P=1 in the error code).
            #expect(space.userAccess(Self.page(0), .read, machine).fixes == [.zeroPage])
            #expect(space.userAccess(Self.page(0), .write, machine) == .fault(.accessDenied))
            #expect(space.userAccess(Self.page(0), .execute, machine) == .fault(.accessDenied))
            #expect(space.userAccess(Self.page(1), .write, machine).fixes == [.demandZero])
            #expect(space.userAccess(Self.page(1), .execute, machine) == .fault(.accessDenied))
            checkInvariants(machine, "after the refusals") { checker throws(VMInvariantViolation) in try checker.add(space) }
        }
    }

    /// A write far from any table needs a page table and a frame: failing
    /// either gives .outOfMemory (Linux VM_FAULT_OOM) with nothing changed.
    @Test func outOfMemoryAtEveryAllocationOfAFaultChangesNothing() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 1, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 0x11, at: Self.page(0))
            let far = Self.base + (4 << 20)
            try space.mapFixed(far, pages: 1, .readWrite, tlb: machine.mmu)
            var failing = 1
            while true {
                let snapshot = PageTableSnapshot(memory: machine.memory, root: space.table.root)
                let allocated = machine.frames.allocatedFrameCount
                machine.frames.failAllocation(number: failing)
                let access = space.userAccess(far + 8, .write, machine)
                if access.physical != nil { break }
                #expect(access == .fault(.outOfMemory), "allocation \(failing)")
                #expect(machine.frames.allocatedFrameCount == allocated, "allocation \(failing): nothing leaked")
                #expect(PageTableSnapshot(memory: machine.memory, root: space.table.root) == snapshot,
                        "allocation \(failing): tables unchanged")
                #expect(space.residentPages == 1)
                failing += 1
            }
            #expect(failing == 3, "a page table and a frame, each failed once")
            #expect(space.residentPages == 2 && space.userLoad(machine, Self.page(0)) == 0x11)
            // A read needs no frame (the zero page) but a table: only the table can fail.
            let farther = Self.base + (8 << 20)
            try space.mapFixed(farther, pages: 1, .readWrite, tlb: machine.mmu)
            machine.frames.failAllocation(number: 1)
            #expect(space.userAccess(farther, .read, machine) == .fault(.outOfMemory))
            machine.frames.failAllAllocations = true
            #expect(space.userAccess(far + pageSize - 8, .read, machine).fixes == [], "present pages need nothing")
            machine.frames.failAllAllocations = false
            #expect(space.userLoad(machine, farther) == 0)
        }
    }

    /// A stale TLB entry (a leaf made writable without invalidating) makes
    /// the CPU fault on a leaf that allows the access: `.spurious`, and
    /// the retry succeeds.
    @Test func staleTLBEntryGivesASpuriousFault() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.page(0), pages: 1, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 0x5A, at: Self.page(0))
            let child = try space.fork(kernel: kernel, tlb: machine.mmu)
            child.tearDown()
            #expect(space.userLoad(machine, Self.page(0)) == 0x5A)   // caches the read-only leaf
            #expect(machine.mmu.cachedTranslation(for: VirtualAddress(Self.page(0)))?.rights.writable == false)
            let frame = space.frame(at: Self.page(0))
            // The reuse makes the leaf writable (same frame); the forgetful TLB keeps the read-only entry.
            let write = PageFault(address: VirtualAddress(Self.page(0)), access: .write, wasPresent: true, fromUser: true)
            #expect(space.resolve(write, tlb: ForgetfulTLB()) == .resolved(.reuse))
            let access = space.userAccess(Self.page(0), .write, machine)
            #expect(access.fixes == [.spurious] && access.physical?.raw == frame)
            #expect(machine.mmu.staleReports.isEmpty, "gaining a right is not stale")
            checkInvariants(machine, "after the spurious fault") { checker throws(VMInvariantViolation) in
                try checker.add(space)
            }
        }
    }

    @Test func demandZeroReadsShareTheZeroFrameAndAWriteReplacesIt() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            let zero = machine.frames.zeroFrame
            let references = machine.frames.referenceCount(of: zero)
            let attempts = machine.frames.allocationAttempts
            let tables = machine.frames.allocatedFrameCount(of: .pageTable)
            #expect(space.userAccess(Self.page(0) + 16, .read, machine).fixes == [.zeroPage])
            #expect(space.userAccess(Self.page(1), .read, machine).fixes == [.zeroPage])
            #expect(space.userLoad(machine, Self.page(0) + 16) == 0 && space.userLoad(machine, Self.page(1) + 4088) == 0)
            #expect(space.frame(at: Self.page(0)) == zero.raw && space.frame(at: Self.page(1)) == zero.raw,
                    "both pages map the one zero frame")
            #expect(machine.frames.referenceCount(of: zero) == references + 2)
            #expect(machine.frames.mapCount(of: zero) == 2)
            #expect(space.table.query(VirtualAddress(Self.page(0)))?.protection == .userReadOnly, "read-only")
            #expect(machine.userFrames == 0, "no user frame allocated (only the page tables)")
            #expect(machine.frames.allocationAttempts - attempts == machine.frames.allocatedFrameCount(of: .pageTable) - tables)
            #expect(space.residentPages == 2)
            checkInvariants(machine, "after the reads") { checker throws(VMInvariantViolation) in try checker.add(space) }

            let write = space.userAccess(Self.page(0) + 16, .write, machine)
            #expect(write.fixes == [.demandZero], "the zero page is replaced, not copied")
            #expect(space.frame(at: Self.page(0)) != zero.raw)
            #expect(machine.frames.referenceCount(of: zero) == references + 1 && machine.frames.mapCount(of: zero) == 1)
            #expect(machine.frames.flags(of: PhysicalAddress(space.frame(at: Self.page(0))!)).contains(.anonExclusive))
            space.userStore(machine, 0xF00D, at: Self.page(0) + 16)
            #expect(space.userLoad(machine, Self.page(0) + 16) == 0xF00D)
            #expect(space.userLoad(machine, Self.page(1)) == 0, "the other page still reads zero")
            #expect(machine.memory.pointer(to: zero).load(as: UInt64.self) == 0, "the zero frame stays zero")
            #expect(machine.userFrames == 1 && space.residentPages == 2)
            checkInvariants(machine, "after the write") { checker throws(VMInvariantViolation) in try checker.add(space) }
            try space.unmap(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(2)), tlb: machine.mmu)
            #expect(machine.frames.referenceCount(of: zero) == references && machine.frames.mapCount(of: zero) == 0)
        }
    }

    @Test func aFirstWriteGetsAZeroedExclusiveFrame() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 1, .readWrite, tlb: machine.mmu)
            let write = space.userAccess(Self.page(0) + 8, .write, machine)
            #expect(write.fixes == [.demandZero])
            let frame = try #require(write.physical)
            #expect(frame.raw & ~(pageSize - 1) != machine.frames.zeroFrame.raw)
            let words = machine.memory.pointer(to: PhysicalAddress(frame.raw & ~(pageSize - 1)))
                .bindMemory(to: UInt64.self, capacity: Int(pageSize / 8))
            #expect((0..<Int(pageSize / 8)).allSatisfy { words[$0] == 0 }, "zeroed")
            #expect(space.table.query(VirtualAddress(Self.page(0)))?.protection == .userReadWrite)
            #expect(space.userAccess(Self.page(0), .write, machine).fixes == [], "now present and writable")
        }
    }

    /// MAP_SHARED|MAP_ANONYMOUS: one object, its pages seen by every mapping.
    static func mapShared(_ space: inout TestSpace, _ machine: PagingMachine, at address: UInt64, pages: UInt64,
                          objectPages: UInt64? = nil, _ protection: VMProtection = .readWrite) throws {
        _ = try space.map(MapRequest(address: VirtualAddress(address), length: pages * pageSize, protection: protection,
                                     fixed: true,
                                     backing: .shared(SharedMemory(pageCount: objectPages ?? pages, frames: machine.frames)),
                                     pageOffset: 0), tlb: machine.mmu)
    }

    @Test func sharedMemoryIsSeenAcrossForkBothWaysAndFreedWithTheLastMapping() throws {
        try withSpace { space, kernel, machine in
            let before = machine.userFrames
            try Self.mapShared(&space, machine, at: Self.page(0), pages: 2)
            #expect(space.residentPages == 0 && machine.userFrames == before, "pages come at first touch")
            #expect(space.userAccess(Self.page(0), .write, machine).fixes == [.shared])
            space.userStore(machine, 0xAB, at: Self.page(0))
            try withFork(of: &space, kernel: kernel, machine) { space, child in
                #expect(child.residentPages == 0, "fork copies no shared leaf")
                #expect(child.userLoad(machine, Self.page(0)) == 0xAB, "the child sees the parent's write")
                #expect(child.frame(at: Self.page(0)) == space.frame(at: Self.page(0)), "the same frame")
                #expect(child.userStore(machine, 0xCD, at: Self.page(1)) == true)
                #expect(space.userLoad(machine, Self.page(1)) == 0xCD, "the parent sees the child's write")
                #expect(space.userStore(machine, 0xEF, at: Self.page(0)) == true)
                #expect(child.userLoad(machine, Self.page(0)) == 0xEF, "writes stay shared after fork")
                #expect(machine.userFrames == before + 2)
                try child.kernelStore(machine, 0x77, at: Self.page(1))
                #expect(space.userLoad(machine, Self.page(1)) == 0x77, "a kernel write lands in the object too")
                checkInvariants(machine, "shared across fork") { checker throws(VMInvariantViolation) in
                    try checker.add(space)
                    try checker.add(child)
                }
                try space.unmap(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(2)), tlb: machine.mmu)
                #expect(machine.userFrames == before + 2, "the child's mapping keeps the object")
                #expect(child.userLoad(machine, Self.page(1)) == 0x77)
            }
            #expect(machine.userFrames == before, "the object's frames went with its last mapping")
        }
    }

    @Test func sharedMemorySurvivesProtNoneAndFaultsPastItsEndAreSIGBUS() throws {
        try withSpace { space, _, machine in
            try Self.mapShared(&space, machine, at: Self.page(0), pages: 3, objectPages: 2)
            space.userStore(machine, 0x99, at: Self.page(1))
            try space.protect(VirtualAddress(Self.page(1))..<VirtualAddress(Self.page(2)), to: .noAccess, tlb: machine.mmu)
            #expect(space.userAccess(Self.page(1), .read, machine) == .fault(.accessDenied))
            try space.protect(VirtualAddress(Self.page(1))..<VirtualAddress(Self.page(2)), to: .readWrite, tlb: machine.mmu)
            #expect(space.userLoad(machine, Self.page(1)) == 0x99, "the page came back")
            #expect(space.userAccess(Self.page(2), .read, machine) == .fault(.beyondEnd), "past the object: SIGBUS")
        }
    }

    /// MAP_PRIVATE of a file: pages copied at first touch, the tail of the
    /// last page zero, SIGBUS wholly past the end, writes private.
    @Test func privateFileMappingContentsTailSIGBUSAndPrivateWrites() throws {
        let fileBytes = (0..<Int(pageSize + pageSize / 2)).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        try fileBytes.withUnsafeBytes { bytes in
            try withSpace { space, kernel, machine in
                let file = FileContents(bytes: bytes, frames: machine.frames)
                #expect(file.pageCount == 2)
                _ = try space.map(MapRequest(address: VirtualAddress(Self.page(0)), length: 3 * pageSize,
                                             protection: .readWrite, fixed: true, backing: .privateFile(file),
                                             pageOffset: 0), tlb: machine.mmu)
                #expect(space.residentPages == 0, "nothing copied at mmap")
                func word(_ offset: Int) -> UInt64 { bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
                #expect(space.userAccess(Self.page(0), .read, machine).fixes == [.file])
                #expect(space.userLoad(machine, Self.page(0)) == word(0))
                #expect(space.userLoad(machine, Self.page(1)) == word(Int(pageSize)))
                #expect(space.userLoad(machine, Self.page(1) + pageSize / 2 - 8) == word(Int(pageSize + pageSize / 2 - 8)))
                #expect(space.userLoad(machine, Self.page(1) + pageSize / 2) == 0, "past EOF in the last page: zero")
                #expect(space.userLoad(machine, Self.page(1) + pageSize - 8) == 0)
                #expect(space.userAccess(Self.page(2), .read, machine) == .fault(.beyondEnd), "wholly past EOF: SIGBUS")
                #expect(space.userAccess(Self.page(2), .write, machine) == .fault(.beyondEnd))
                #expect(space.userStore(machine, 0x1234, at: Self.page(0)) == true)
                #expect(word(0) != 0x1234, "the file is unchanged")
                try withFork(of: &space, kernel: kernel, machine) { space, child in
                    #expect(child.userLoad(machine, Self.page(0)) == 0x1234, "the child sees the parent's private copy")
                    #expect(child.userStore(machine, 0x5678, at: Self.page(1)) == true)
                    #expect(space.userLoad(machine, Self.page(1)) == word(Int(pageSize)), "private after fork")
                    checkInvariants(machine, "file mapping across fork") { checker throws(VMInvariantViolation) in
                        try checker.add(space)
                        try checker.add(child)
                    }
                }
                // A mapping at a file offset: page 1 of the file first.
                _ = try space.map(MapRequest(address: VirtualAddress(Self.page(8)), length: pageSize,
                                             protection: .read, fixed: true, backing: .privateFile(file),
                                             pageOffset: 1), tlb: machine.mmu)
                #expect(space.userLoad(machine, Self.page(8)) == word(Int(pageSize)))
            }
        }
    }
}
