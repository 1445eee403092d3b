// Host tests of the typed access levels (Kernel/VM/RegionViews.swift): the
// read view shows the region as it is, the write view changes it as
// mprotect does (pages re-protected, neighbours merged) and refuses past
// the may-permissions with nothing changed. What must not compile is in
// Tests/CompileFail (Tests/run-compile-fail.sh).

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct RegionViewsTests {
    static let base: UInt64 = 0x4000_0000
    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }

    @Test func theReadViewShowsTheRegionAndNothingWhereThereIsNone() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            let shown = space.withRegion(containing: VirtualAddress(Self.page(1))) { region in
                (region.range, region.protection, region.mayProtection, region.kind)
            }
            #expect(shown?.0 == VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(2)))
            #expect(shown?.1 == .readWrite && shown?.2 == .all && shown?.3 == .anonymous)
            #expect(space.withRegion(containing: VirtualAddress(Self.page(2))) { _ in true } == nil)
        }
    }

    @Test func theWriteViewChangesTheWholeRegionAsMprotectDoes() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.page(2), pages: 2, .read, tlb: machine.mmu)
            space.userStore(machine, 0x77, at: Self.page(1))
            try space.withRegionForWriting(containing: VirtualAddress(Self.page(0)), tlb: machine.mmu) {
                region throws(VMError) in
                #expect(region.protection == .readWrite)
                try region.setProtection(.read)
            }
            #expect(space.regionShapes == [region(Self.page(0), pages: 4, .read)], "merged with its neighbour")
            #expect(space.userAccess(Self.page(1), .write, machine) == .fault(.accessDenied), "the leaf lost write")
            #expect(space.userLoad(machine, Self.page(1)) == 0x77)
            #expect(throws: VMError.notMapped) {
                try space.withRegionForWriting(containing: VirtualAddress(Self.page(9)), tlb: machine.mmu) { _ throws(VMError) in }
            }
            #expect(machine.mmu.staleReports.isEmpty)
        }
    }

    @Test func theWriteViewRefusesPastTheMayPermissionsAndChangesNothing() throws {
        let bytes = TestFile(patternedBytes: 2 * Int(pageSize))
        try withSpace { space, _, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            _ = try space.map(MapRequest(address: VirtualAddress(Self.page(0)), length: 2 * pageSize, protection: .read,
                                         fixed: true, backing: .sharedFile(file), pageOffset: 0), tlb: machine.mmu)
            let regions = space.regions
            #expect(throws: VMError.permissionDenied) {
                try space.withRegionForWriting(containing: VirtualAddress(Self.page(0)), tlb: machine.mmu) {
                    region throws(VMError) in try region.setProtection(.readWrite)
                }
            }
            #expect(space.regions == regions, "EACCES changed nothing")
            // Within the may-permissions (read|exec) it goes through.
            try space.withRegionForWriting(containing: VirtualAddress(Self.page(0)), tlb: machine.mmu) {
                region throws(VMError) in try region.setProtection(.readExecute)
            }
            #expect(space.regions.map(\.protection) == [.readExecute])
        }
    }
}
