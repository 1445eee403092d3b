// Host tests of the VM invariant checker itself (Kernel/VM/VMInvariantChecker.swift):
// it passes on what the VM builds, sees exactly the touched range, and it
// CAN fail: each test breaks one rule behind the VM's back, expects the
// checker to name it, and repairs the damage before teardown.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct VMInvariantCheckerTests {
    static let base: UInt64 = 0x4000_0000

    /// The violation the full check of `space` reports, or nil.
    static func violation(_ space: borrowing TestSpace, _ machine: PagingMachine) -> String? {
        var checker = VMInvariantChecker<SimulatedPhysicalMemory, TestFrameProvider>(frames: machine.frames)
        do throws(VMInvariantViolation) {
            try checker.add(space)
            try checker.finish(userFrames: machine.frames.allocatedFrameCount(of: .user))
            return nil
        } catch {
            return "\(error.rule)"
        }
    }

    /// Rewrites the protection of the leaf at `address` without the VM.
    static func setLeafProtection(_ space: inout TestSpace, _ address: UInt64, _ protection: PageProtection,
                                  _ machine: PagingMachine) throws {
        try space.table.edit(VirtualAddress(address)..<VirtualAddress(address + pageSize), flushingWith: machine.mmu) {
            (cursor) throws(PagingError) in
            try cursor.updateLeaves(length: pageSize) { _, entry in entry.with(protection) }
        }
    }

    @Test func touchedRangesAreReportedAndCheckTouchedPasses() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 4, .readWrite, tlb: machine.mmu)
            _ = space.takeTouched()
            space.userStore(machine, 1, at: Self.base + 2 * pageSize)
            let taken = space.takeTouched()
            let touched = try #require(taken)
            #expect(touched.contains(VirtualAddress(Self.base + 2 * pageSize)))
            #expect(!touched.contains(VirtualAddress(Self.base)), "only the faulted page")
            try VMInvariantChecker<SimulatedPhysicalMemory, TestFrameProvider>.checkTouched(space, touched,
                                                                                             frames: machine.frames)
            let again = space.takeTouched()
            #expect(again == nil)
        }
    }

    @Test func aWritableCopyOnWriteLeafIsCaught() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.base, pages: 1, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 1, at: Self.base)
            try withFork(of: &space, kernel: kernel, machine) { parent, child in
                try Self.setLeafProtection(&parent, Self.base, .userReadWrite, machine)   // the bug: shared and writable
                #expect(Self.violation(parent, machine) == "writable shared cow")
                #expect(throws: VMInvariantViolation.self) {
                    try VMInvariantChecker<SimulatedPhysicalMemory, TestFrameProvider>.checkTouched(
                        parent, VirtualAddress(Self.base)..<VirtualAddress(Self.base + pageSize), frames: machine.frames)
                }
                try Self.setLeafProtection(&parent, Self.base, .userReadOnly, machine)
                checkInvariants(machine, "repaired") { checker throws(VMInvariantViolation) in
                    try checker.add(parent)
                    try checker.add(child)
                }
            }
        }
    }

    @Test func aLeafBeyondItsRegionsProtectionIsCaught() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .read, tlb: machine.mmu)
            #expect(space.userLoad(machine, Self.base) == 0)
            try Self.setLeafProtection(&space, Self.base, .userCode, machine)   // executable in a PROT_READ region
            #expect(Self.violation(space, machine) == "leaf exceeds region")
            try Self.setLeafProtection(&space, Self.base, .userReadOnly, machine)
            #expect(Self.violation(space, machine) == nil)
        }
    }

    @Test func countsThatDisagreeWithTheLeavesAreCaught() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 1, at: Self.base)
            let frame = PhysicalAddress(try requireFrame(space, Self.base))
            let extra = machine.frames.shareFrame(at: frame)           // a reference nobody accounts for...
            machine.frames.incrementMapCount(frame)                    // ...and a map count without a leaf
            // The leaf is writable, so the per-leaf rule sees it first: a
            // writable private leaf whose frame counts two mappings.
            #expect(Self.violation(space, machine) == "writable shared cow")
            try space.protect(VirtualAddress(Self.base)..<VirtualAddress(Self.base + pageSize), to: .read,
                              tlb: machine.mmu)
            #expect(Self.violation(space, machine) == "exclusive frame shared",
                    "read-only: an exclusive frame with two map counts")
            machine.frames.setFlags(machine.frames.flags(of: frame).subtracting(.anonExclusive), of: frame)
            #expect(Self.violation(space, machine) == "map count", "not exclusive: the cross-space count rule")
            machine.frames.setFlags(machine.frames.flags(of: frame).union(.anonExclusive), of: frame)
            try space.protect(VirtualAddress(Self.base)..<VirtualAddress(Self.base + pageSize), to: .readWrite,
                              tlb: machine.mmu)
            machine.frames.decrementMapCount(frame)
            #expect(Self.violation(space, machine) == "reference count")
            machine.frames.releaseFrame(extra)
            #expect(Self.violation(space, machine) == nil)
            let leaked = machine.frames.allocateFrame(kind: .user)!   // a user frame nothing maps
            #expect(Self.violation(space, machine) == "user frames leaked")
            machine.frames.releaseFrame(leaked)
            space.residentPages += 1                                   // RSS that the tables do not hold
            #expect(Self.violation(space, machine) == "resident pages")
            space.residentPages -= 1
            #expect(Self.violation(space, machine) == nil)
        }
    }
}
