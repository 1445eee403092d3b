// Host tests of copy-on-write (the write fault on a read-only leaf of a
// writable private region, Kernel/VM/UserAddressSpace+Fault.swift step 4,
// after fork, Kernel/VM/UserAddressSpace+Fork.swift): isolation both ways,
// the copy while shared, the in-place reuse once alone (same frame, no
// allocation), kernel-side writes breaking COW, and the frame counts of
// many sharers.

import Testing
@testable import KernelCore
import FakeMMU

/// A space held by reference, so that tests can keep many of them (an
/// array cannot hold a non-copyable value).
final class SpaceBox {
    var space: TestSpace?
    init(_ space: consuming TestSpace) { self.space = consume space }

    /// Tears the space down (unloading it from `machine` first if loaded).
    func tearDown(_ machine: PagingMachine, kernel: borrowing TestPageTable) {
        guard let space = space.take() else { return }
        if machine.mmu.cr3 == space.table.root { machine.mmu.cr3 = kernel.root }
        space.tearDown()
    }
}

/// The frame mapped at `address`; throws (recording an issue) if none.
func requireFrame(_ space: borrowing TestSpace, _ address: UInt64,
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> UInt64 {
    let frame = space.frame(at: address)
    return try #require(frame, sourceLocation: sourceLocation)
}

@Suite struct UserAddressSpaceCopyOnWriteTests {
    static let base: UInt64 = 0x4000_0000
    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }

    /// Page 0 written (an exclusive frame), page 1 only read (the zero page).
    static func prepare(_ space: inout TestSpace, _ machine: PagingMachine) throws {
        try space.mapFixed(page(0), pages: 2, .readWrite, tlb: machine.mmu)
        space.userStore(machine, 0xA, at: page(0))
        #expect(space.userLoad(machine, page(1)) == 0)
    }

    @Test func writesAreIsolatedBothWaysAndEachSideCopiesOrReuses() throws {
        try withSpace { space, kernel, machine in
            try Self.prepare(&space, machine)
            let original = try requireFrame(space, Self.page(0))
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                #expect(child.frame(at: Self.page(0)) == original)
                let attempts = machine.frames.allocationAttempts
                // Parent writes while shared: a copy; the child keeps the original.
                let write = parent.userAccess(Self.page(0), .write, machine)
                #expect(write.fixes == [.copyOnWrite])
                #expect(machine.frames.allocationAttempts == attempts + 1)
                parent.userStore(machine, 0xB, at: Self.page(0))
                #expect(parent.frame(at: Self.page(0)) != original)
                #expect(child.userLoad(machine, Self.page(0)) == 0xA, "the child does not see the parent's write")
                #expect(machine.frames.referenceCount(of: PhysicalAddress(original)) == 1)
                // The child is now alone on the original: its write reuses it.
                let reuse = child.userAccess(Self.page(0), .write, machine)
                #expect(reuse.fixes == [.reuse] && child.frame(at: Self.page(0)) == original)
                #expect(machine.frames.allocationAttempts == attempts + 1, "reuse allocates nothing")
                child.userStore(machine, 0xC, at: Self.page(0))
                #expect(parent.userLoad(machine, Self.page(0)) == 0xB, "the parent does not see the child's write")
                // The zero page: a write on either side gets its own zeroed frame.
                #expect(child.userAccess(Self.page(1), .write, machine).fixes == [.demandZero])
                child.userStore(machine, 0xD, at: Self.page(1))
                #expect(parent.userLoad(machine, Self.page(1)) == 0)
                #expect(parent.frame(at: Self.page(1)) == machine.frames.zeroFrame.raw)
                checkInvariants(machine, "after the writes") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
                parent.load(in: machine)
            }
        }
    }

    @Test func afterTheChildIsGoneTheParentReusesTheSameFrameAndAllocatesNothing() throws {
        try withSpace { space, kernel, machine in
            try Self.prepare(&space, machine)
            let original = try requireFrame(space, Self.page(0))
            let child = try space.fork(kernel: kernel, tlb: machine.mmu)
            #expect(machine.frames.referenceCount(of: PhysicalAddress(original)) == 2)
            child.tearDown()
            #expect(machine.frames.referenceCount(of: PhysicalAddress(original)) == 1)
            #expect(space.table.query(VirtualAddress(Self.page(0)))?.protection == .userReadOnly, "still write-protected")
            let attempts = machine.frames.allocationAttempts
            let allocated = machine.frames.allocatedFrameCount
            let write = space.userAccess(Self.page(0), .write, machine)
            #expect(write.fixes == [.reuse])
            #expect(space.frame(at: Self.page(0)) == original, "the same physical frame")
            #expect(machine.frames.allocationAttempts == attempts && machine.frames.allocatedFrameCount == allocated,
                    "nothing allocated")
            #expect(machine.frames.flags(of: PhysicalAddress(original)).contains(.anonExclusive), "exclusive again")
            #expect(space.userLoad(machine, Self.page(0)) == 0xA, "nothing copied, nothing lost")
        }
    }

    @Test func kernelSideWritesBreakCopyOnWriteAndReadsDoNot() throws {
        try withSpace { space, kernel, machine in
            try Self.prepare(&space, machine)
            let original = try requireFrame(space, Self.page(0))
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                #expect(try child.kernelLoad(machine, Self.page(0)) == 0xA)
                #expect(child.frame(at: Self.page(0)) == original, "a kernel read shares")
                try child.kernelStore(machine, 0x1111, at: Self.page(0))        // e.g. read(2) into a COW buffer
                #expect(child.frame(at: Self.page(0)) != original, "the kernel's write copied the page")
                #expect(parent.userLoad(machine, Self.page(0)) == 0xA, "the other side is unchanged")
                #expect(child.userLoad(machine, Self.page(0)) == 0x1111)
                try parent.kernelStore(machine, 0x2222, at: Self.page(1))       // the zero page
                #expect(parent.frame(at: Self.page(1)) != machine.frames.zeroFrame.raw)
                #expect(child.userLoad(machine, Self.page(1)) == 0)
                #expect(machine.memory.pointer(to: machine.frames.zeroFrame).load(as: UInt64.self) == 0,
                        "the kernel never writes into the zero frame")
                try parent.kernelStore(machine, 0x3333, at: Self.page(0))       // parent alone now: reuse
                #expect(parent.frame(at: Self.page(0)) == original)
                checkInvariants(machine, "after the kernel writes") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
                parent.load(in: machine)
            }
        }
    }

    /// A read-only private region shared by fork stays shared; the loader's
    /// forced kernel write into it copies (FOLL_FORCE) and the leaf stays read-only.
    @Test func forcedKernelWriteIntoAReadOnlySharedPageCopies() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.page(0), pages: 1, .read, kind: .image, tlb: machine.mmu)
            try space.kernelStore(machine, 0x7E57, at: Self.page(0))
            let original = try requireFrame(space, Self.page(0))
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                #expect(child.frame(at: Self.page(0)) == original)
                try child.kernelStore(machine, 0x8E57, at: Self.page(0))
                #expect(child.frame(at: Self.page(0)) != original)
                #expect(child.table.query(VirtualAddress(Self.page(0)))?.protection == .userReadOnly)
                #expect(parent.userLoad(machine, Self.page(0)) == 0x7E57)
                #expect(child.userLoad(machine, Self.page(0)) == 0x8E57)
                #expect(child.userAccess(Self.page(0), .write, machine) == .fault(.accessDenied))
                parent.load(in: machine)
            }
        }
    }

    /// 100 children sharing one page: one reference and one map count per
    /// leaf (101), back to 1 when they are gone; each child's write copies.
    @Test func aHundredForksShareOnePageAndTheCountsComeBack() throws {
        try withSpace { space, kernel, machine in
            try Self.prepare(&space, machine)
            let frame = PhysicalAddress(try requireFrame(space, Self.page(0)))
            var children: [SpaceBox] = []
            for _ in 0..<100 { children.append(SpaceBox(try space.fork(kernel: kernel, tlb: machine.mmu))) }
            #expect(machine.frames.referenceCount(of: frame) == 101 && machine.frames.mapCount(of: frame) == 101)
            checkInvariants(machine, "101 sharers") { checker throws(VMInvariantViolation) in
                try checker.add(space)
                for box in children { try checker.add(box.space!) }
            }
            for (index, box) in children.enumerated() where index % 10 == 0 {
                #expect(box.space!.userStore(machine, UInt64(index), at: Self.page(0)) == true)
            }
            #expect(machine.frames.mapCount(of: frame) == 91, "ten children copied")
            #expect(space.userLoad(machine, Self.page(0)) == 0xA)
            for box in children { box.tearDown(machine, kernel: kernel) }
            #expect(machine.frames.referenceCount(of: frame) == 1 && machine.frames.mapCount(of: frame) == 1)
            #expect(space.userAccess(Self.page(0), .write, machine).fixes == [.reuse])
        }
    }

    /// Nested forks: a grandchild shares with its parent and grandparent.
    @Test func nestedForksShareDownTheLine() throws {
        try withSpace { space, kernel, machine in
            try Self.prepare(&space, machine)
            let frame = PhysicalAddress(try requireFrame(space, Self.page(0)))
            let child = SpaceBox(try space.fork(kernel: kernel, tlb: machine.mmu))
            let grandchild = SpaceBox(try child.space!.fork(kernel: kernel, tlb: machine.mmu))
            #expect(machine.frames.mapCount(of: frame) == 3)
            #expect(grandchild.space!.userLoad(machine, Self.page(0)) == 0xA)
            #expect(child.space!.userStore(machine, 0xB, at: Self.page(0)) == true)
            #expect(grandchild.space!.userLoad(machine, Self.page(0)) == 0xA)
            #expect(space.userLoad(machine, Self.page(0)) == 0xA)
            checkInvariants(machine, "three generations") { checker throws(VMInvariantViolation) in
                try checker.add(space)
                try checker.add(child.space!)
                try checker.add(grandchild.space!)
            }
            child.tearDown(machine, kernel: kernel)
            #expect(grandchild.space!.userLoad(machine, Self.page(0)) == 0xA)
            grandchild.tearDown(machine, kernel: kernel)
            space.load(in: machine)
            #expect(machine.frames.mapCount(of: frame) == 1)
        }
    }
}
