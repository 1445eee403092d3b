// Host tests of the kernel-side access helpers of the user address space:
// write/read through the frames (ignoring protections and CR3) and the
// `contains` check used to validate system-call pointers.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceAccessTests {
    static let base: UInt64 = 0x4000_0000

    @Test func writeAndReadCrossPagesAndIgnoreProtections() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .read, kind: .image, tlb: machine.mmu)
            try space.mapFixed(Self.base + pageSize, pages: 1, .readExecute, kind: .image, tlb: machine.mmu)
            let bytes = (0..<100).map { UInt8($0) }
            let address = VirtualAddress(Self.base + pageSize - 50)
            try bytes.withUnsafeBytes { try space.write($0, at: address, tlb: machine.mmu) }
            var back = [UInt8](repeating: 0xFF, count: 100)
            try back.withUnsafeMutableBytes { try space.read(into: $0, at: address, tlb: machine.mmu) }
            #expect(back == bytes)
            // The bytes are where user code sees them, on both pages.
            #expect(space.userLoad(machine, Self.base + pageSize - 8) == 0x31_302F_2E2D_2C2B_2A)  // bytes 42...49 LE
            #expect(space.userLoad(machine, Self.base + pageSize) == 0x39_3837_3635_3433_32)
            try space.write(UnsafeRawBufferPointer(start: nil, count: 0), at: VirtualAddress(0), tlb: machine.mmu)
        }
    }

    /// Changed on purpose (issue [4]): `write` faults each page in as it
    /// goes, so the pages before the missing one are written (like a
    /// partial copy_to_user); it used to check the whole range first.
    @Test func aMissingPageStopsTheCopyThere() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.base + 2 * pageSize, pages: 1, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.base + 3 * pageSize, pages: 1, .noAccess, tlb: machine.mmu)
            let bytes = [UInt8](repeating: 0xAB, count: Int(2 * pageSize))
            for address in [Self.base, Self.base + 2 * pageSize + 8, Self.base - pageSize] {
                #expect(throws: VMError.notMapped) {
                    try bytes.withUnsafeBytes { try space.write($0, at: VirtualAddress(address), tlb: machine.mmu) }
                }
            }
            #expect(space.userLoad(machine, Self.base) == 0xABAB_ABAB_ABAB_ABAB, "the first page was written")
            #expect(space.userLoad(machine, Self.base + 2 * pageSize + 8) == 0xABAB_ABAB_ABAB_ABAB)
            #expect(space.userLoad(machine, Self.base + 2 * pageSize) == 0, "from the start address on")
            var buffer = [UInt8](repeating: 0, count: 16)
            #expect(throws: VMError.notMapped) {
                try buffer.withUnsafeMutableBytes { try space.read(into: $0, at: VirtualAddress(Self.base + pageSize), tlb: machine.mmu) }
            }
        }
    }

    @Test func theKernelHalfAndNonUserAddressesAreNeverReached() throws {
        let machine = PagingMachine()
        var kernel = try machine.newTable(pinnedSlots: kernelHalf)
        let kernelPage: UInt64 = 0x7f80_0000_0000  // slot 255: shared into the space
        try machine.mapFreshPage(&kernel, at: kernelPage, .kernelReadWrite)
        do {
            var space = try TestSpace(sharingKernelHalfOf: kernel)
            #expect(space.table.translate(VirtualAddress(kernelPage)) != nil, "the kernel half is visible")
            let bytes: [UInt8] = [1, 2, 3]
            for address in [kernelPage, kernelPage - 1, UInt64.max - 1, 0xFFFF_8000_0000_0000] {
                #expect(throws: VMError.notMapped) {
                    try bytes.withUnsafeBytes { try space.write($0, at: VirtualAddress(address), tlb: machine.mmu) }
                }
            }
            #expect(space.contains(VirtualAddress(kernelPage)..<VirtualAddress(kernelPage + 8), needing: []) == false)
            space.tearDown()
        } catch {
            Issue.record(error)
        }
        machine.tearDown(kernel)
    }

    @Test func containsFollowsRegionsAndProtections() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.base, pages: 1, .readWrite, tlb: machine.mmu)
            try space.mapFixed(Self.base + pageSize, pages: 1, .read, kind: .image, tlb: machine.mmu)
            try space.mapFixed(Self.base + 3 * pageSize, pages: 1, .readWrite, tlb: machine.mmu)
            func range(_ start: UInt64, _ end: UInt64) -> Range<VirtualAddress> {
                VirtualAddress(Self.base + start)..<VirtualAddress(Self.base + end)
            }
            #expect(space.contains(range(10, 2 * pageSize), needing: .read) == true, "across two regions")
            #expect(space.contains(range(10, 2 * pageSize), needing: .write) == false, "the second is read-only")
            #expect(space.contains(range(10, pageSize), needing: .readWrite) == true)
            #expect(space.contains(range(10, 2 * pageSize + 1), needing: .read) == false, "into the hole")
            #expect(space.contains(range(0, 4 * pageSize), needing: []) == false)
            #expect(space.contains(range(0, pageSize), needing: .execute) == false)
            #expect(space.contains(range(5, 5), needing: .readWrite) == true, "empty ranges are fine (access_ok)")
            #expect(space.contains(TestSpace.userEnd..<TestSpace.userEnd, needing: .read) == true)
            #expect(space.contains(VirtualAddress(TestSpace.userEnd.raw + 1)..<VirtualAddress(TestSpace.userEnd.raw + 1),
                                    needing: .read) == false)
            #expect(space.contains(VirtualAddress(0)..<VirtualAddress(8), needing: []) == false)
            #expect(space.isFree(range(2 * pageSize, 3 * pageSize)) == true)
            #expect(space.isFree(range(2 * pageSize, 3 * pageSize + 1)) == false)
        }
    }
}
