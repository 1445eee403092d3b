// Host tests of the reverse map (Kernel/VM/ReverseMap.swift): from a frame
// to every (space, address) that maps it, across fork, split, unmap and
// copy-on-write, for private and shared pages.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceReverseMapTests {
    static let base: UInt64 = 0x4000_0000
    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }

    @Test func aPrivateFrameIsFoundInEverySpaceThatMapsItAcrossForkSplitAndCopy() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.page(0), pages: 4, .readWrite, tlb: machine.mmu)
            for index in 0..<4 as Range<UInt64> { space.userStore(machine, index, at: Self.page(index)) }
            let frame = PhysicalAddress(try requireFrame(space, Self.page(2)))
            #expect(space.reverseMappings(of: frame) == [VirtualAddress(Self.page(2))])
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                #expect(child.reverseMappings(of: frame) == [VirtualAddress(Self.page(2))])
                #expect(parent.reverseMappings(of: frame) == [VirtualAddress(Self.page(2))])
                let owner = machine.frames.reverseMapping(of: frame).owner
                #expect(parent.mayMap(owner: owner) && child.mayMap(owner: owner), "both are members of the lineage")
                // Split the region around the page: the index still leads to it.
                try child.protect(VirtualAddress(Self.page(2))..<VirtualAddress(Self.page(3)), to: .read, tlb: machine.mmu)
                #expect(child.regions.count == 3)
                #expect(child.reverseMappings(of: frame) == [VirtualAddress(Self.page(2))])
                // The parent copies: the old frame is now the child's alone, the copy the parent's.
                #expect(parent.userStore(machine, 0xC0, at: Self.page(2)) == true)
                let copy = PhysicalAddress(try requireFrame(parent, Self.page(2)))
                #expect(parent.reverseMappings(of: frame).isEmpty && child.reverseMappings(of: frame).count == 1)
                #expect(parent.reverseMappings(of: copy) == [VirtualAddress(Self.page(2))])
                #expect(child.reverseMappings(of: copy).isEmpty)
                // Unmapping drops the mapping from the walk.
                try child.unmap(VirtualAddress(Self.page(2))..<VirtualAddress(Self.page(3)), tlb: machine.mmu)
                #expect(child.reverseMappings(of: frame).isEmpty)
                checkInvariants(machine, "after split, copy and unmap") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
                parent.load(in: machine)
            }
        }
    }

    @Test func aSharedFrameIsFoundThroughItsObjectInEveryMapping() throws {
        try withSpace { space, kernel, machine in
            try UserAddressSpaceFaultTests.mapShared(&space, machine, at: Self.page(0), pages: 2)
            space.userStore(machine, 1, at: Self.page(1))
            let frame = PhysicalAddress(try requireFrame(space, Self.page(1)))
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                #expect(child.reverseMappings(of: frame).isEmpty, "not faulted in yet")
                #expect(child.userLoad(machine, Self.page(1)) == 1)
                #expect(child.reverseMappings(of: frame) == [VirtualAddress(Self.page(1))])
                #expect(parent.reverseMappings(of: frame) == [VirtualAddress(Self.page(1))])
                parent.load(in: machine)
            }
        }
    }

    @Test func theZeroPageHasNoReverseMap() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 1, .readWrite, tlb: machine.mmu)
            #expect(space.userLoad(machine, Self.page(0)) == 0)
            #expect(space.reverseMappings(of: machine.frames.zeroFrame).isEmpty)
        }
    }
}
