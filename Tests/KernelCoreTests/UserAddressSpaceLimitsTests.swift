// Host tests of the memory counters and limits (Kernel/VM/MemoryAccounting
// .swift, UserAddressSpace+Counters.swift, UserAddressSpace+Limits.swift):
// - the mapped-page counters (total_vm, data_vm, stack_vm) after each kind
//   of region change, and the RSS counters by kind after faults, copy-on-
//   write, fork and unmap, exactly;
// - RLIMIT_AS and RLIMIT_DATA in mmap (MAP_FIXED replacements counted as
//   freed), brk (check_data_rlimit, shrink included) and mprotect (turning
//   writable), each failing with `.limitExceeded` and changing nothing;
//   Linux's Valgrind workaround; a limit that is not a page multiple;
// - the checker's counter rules catch a wrong counter;
// - a randomized model test: random maps, unmaps, protects, brk moves,
//   accesses, forks and random limits; every success or refusal must be
//   the one Linux's rules predict from the model, and the counters must
//   equal the model's after every step (the VMInvariantChecker recounts
//   them from the leaves too).

import Testing
@testable import KernelCore
import FakeMMU

/// Expected counters (the RSS ones default to 0).
func counters(total: Int, data: Int = 0, stack: Int = 0, anonymous: Int = 0, file: Int = 0,
              shared: Int = 0) -> MemoryCounters {
    var c = MemoryCounters()
    c.totalPages = total
    c.dataPages = data
    c.stackPages = stack
    c.anonymousPages = anonymous
    c.filePages = file
    c.sharedPages = shared
    return c
}

extension UserAddressSpace {
    /// MAP_FIXED|MAP_SHARED|MAP_ANONYMOUS over `pages` pages at `address`.
    mutating func mapShared<TLB: TLBControl>(_ address: UInt64, pages: UInt64, _ protection: VMProtection,
                                             frames: any FrameProvider, tlb: TLB) throws(VMError) {
        _ = try map(MapRequest(address: VirtualAddress(address), length: pages * pageSize, protection: protection,
                               fixed: true, backing: .shared(SharedMemory(pageCount: pages, frames: frames)),
                               pageOffset: 0), tlb: tlb)
    }

    /// A hinted (non-fixed) private anonymous mapping of `pages` pages.
    mutating func mapAnywhere<TLB: TLBControl>(pages: UInt64, _ protection: VMProtection,
                                               kind: RegionKind = .anonymous, tlb: TLB) throws(VMError) -> VirtualAddress {
        try map(MapRequest(length: pages * pageSize, protection: protection, kind: kind), tlb: tlb)
    }
}

@Suite struct UserAddressSpaceCountersTests {
    static let base: UInt64 = 0x4000_0000
    static let heap: UInt64 = 0x60_0000

    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }
    static func pages(_ from: UInt64, _ to: UInt64) -> Range<VirtualAddress> {
        VirtualAddress(page(from))..<VirtualAddress(page(to))
    }

    @Test func mappedPagesByKindFollowEveryRegionChange() throws {
        try withSpace { space, _, machine in
            #expect(space.counters == counters(total: 0))
            try space.mapFixed(Self.page(0), pages: 4, .readWrite, tlb: machine.mmu)
            #expect(space.counters == counters(total: 4, data: 4), "private writable: data")
            try space.mapFixed(Self.page(8), pages: 2, .read, tlb: machine.mmu)
            #expect(space.counters == counters(total: 6, data: 4), "read-only: not data")
            try space.mapShared(Self.page(16), pages: 3, .readWrite, frames: machine.frames, tlb: machine.mmu)
            #expect(space.counters == counters(total: 9, data: 4), "shared writable: not data")
            try space.mapFixed(Self.page(24), pages: 2, .readWrite, kind: .stack, tlb: machine.mmu)
            #expect(space.counters == counters(total: 11, data: 4, stack: 2), "the stack: stack, not data")
            try space.mapFixed(Self.page(30), pages: 1, [.read, .write, .execute], kind: .image, tlb: machine.mmu)
            #expect(space.counters == counters(total: 12, data: 5, stack: 2), "rwx private: data")

            try space.protect(Self.pages(0, 1), to: .read, tlb: machine.mmu)
            #expect(space.counters == counters(total: 12, data: 4, stack: 2), "mprotect away from writable")
            try space.protect(Self.pages(8, 10), to: .readWrite, tlb: machine.mmu)
            #expect(space.counters == counters(total: 12, data: 6, stack: 2), "mprotect to writable")
            try space.protect(Self.pages(16, 17), to: .read, tlb: machine.mmu)
            #expect(space.counters == counters(total: 12, data: 6, stack: 2), "shared: never data")

            space.setInitialBreak(VirtualAddress(Self.heap))
            _ = space.setBreak(VirtualAddress(Self.heap + 2 * pageSize + 1), tlb: machine.mmu)
            #expect(space.counters == counters(total: 15, data: 9, stack: 2), "brk: a data mapping")

            try space.unmap(Self.pages(2, 10), tlb: machine.mmu)
            #expect(space.counters == counters(total: 11, data: 5, stack: 2), "munmap across two regions and a hole")
            try space.mapFixed(Self.page(16), pages: 3, .readWrite, tlb: machine.mmu)
            #expect(space.counters == counters(total: 11, data: 8, stack: 2), "MAP_FIXED replacing shared by private")
            _ = space.setBreak(VirtualAddress(Self.heap), tlb: machine.mmu)
            #expect(space.counters == counters(total: 8, data: 5, stack: 2), "brk shrink")
            try space.unmap(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(40)), tlb: machine.mmu)
            #expect(space.counters == counters(total: 0))
        }
    }

    @Test func residentPagesByKindFollowFaultsCopyOnWriteForkAndUnmap() throws {
        try withSpace { space, kernel, machine in
            try space.mapFixed(Self.page(0), pages: 4, .readWrite, tlb: machine.mmu)
            _ = space.userLoad(machine, Self.page(0))
            #expect(space.counters == counters(total: 4, data: 4), "the zero page counts nowhere")
            #expect(space.residentPages == 1)
            space.userStore(machine, 1, at: Self.page(1))
            #expect(space.counters == counters(total: 4, data: 4, anonymous: 1), "a demand-zero write")
            space.userStore(machine, 2, at: Self.page(0))
            #expect(space.counters == counters(total: 4, data: 4, anonymous: 2), "the zero page replaced")
            try space.mapShared(Self.page(8), pages: 2, .readWrite, frames: machine.frames, tlb: machine.mmu)
            space.userStore(machine, 3, at: Self.page(8))
            _ = space.userLoad(machine, Self.page(9))
            #expect(space.counters == counters(total: 6, data: 4, anonymous: 2, shared: 2))
            try space.kernelStore(machine, 4, at: Self.page(2))
            #expect(space.counters == counters(total: 6, data: 4, anonymous: 3, shared: 2), "a kernel-side write")

            try withFork(of: &space, kernel: kernel, machine) { space, child in
                #expect(child.counters == counters(total: 6, data: 4, anonymous: 3),
                        "the child maps all, holds the private pages, not yet the shared ones")
                child.load(in: machine)
                child.userStore(machine, 5, at: Self.page(1))
                #expect(child.counters == counters(total: 6, data: 4, anonymous: 3), "a copy replaces an anonymous page")
                _ = child.userLoad(machine, Self.page(8))
                #expect(child.counters == counters(total: 6, data: 4, anonymous: 3, shared: 1))
                space.load(in: machine)
                space.userStore(machine, 6, at: Self.page(1))
                #expect(space.counters == counters(total: 6, data: 4, anonymous: 3, shared: 2), "a reuse changes nothing")
                checkInvariants(machine, "after fork") { checker throws(VMInvariantViolation) in
                    try checker.add(space)
                    try checker.add(child)
                }
            }
            try space.unmap(Self.pages(1, 9), tlb: machine.mmu)
            #expect(space.counters == counters(total: 2, data: 1, anonymous: 1, shared: 1))
        }
    }

    @Test func aPrivateFilePageIsResidentAsAnonymousOrFile() throws {
        let bytes = [UInt8](repeating: 0xAB, count: 2 * Int(pageSize))
        try bytes.withUnsafeBytes { file in
            try withSpace { space, _, machine in
                _ = try space.map(MapRequest(address: VirtualAddress(Self.page(0)), length: 2 * pageSize,
                                             protection: .readWrite, fixed: true,
                                             backing: .privateFile(FileContents(bytes: file, frames: machine.frames)),
                                             pageOffset: 0),
                                  tlb: machine.mmu)
                // A read maps the page-cache frame (file RSS); a write, a
                // private copy (anonymous RSS, Linux MM_ANONPAGES).
                _ = space.userLoad(machine, Self.page(0))
                #expect(space.counters.filePages == 1 && space.counters.anonymousPages == 0)
                space.userStore(machine, 7, at: Self.page(1))
                #expect(space.counters.filePages == 1 && space.counters.anonymousPages == 1)
                space.userStore(machine, 8, at: Self.page(0))
                #expect(space.counters.filePages == 0 && space.counters.anonymousPages == 2, "the copy replaced the cache page")
                #expect(space.counters.sharedPages == 0 && space.counters.dataPages == 2)
            }
        }
    }

    @Test func residentKindComesFromTheFrameMarks() throws {
        let machine = PagingMachine()
        let frames = machine.frames
        #expect(ResidentKind.of(frames.zeroFrame, frames) == nil)
        let frame = frames.allocateFrame(kind: .user)!
        let address = frame.address
        #expect(ResidentKind.of(address, frames) == .file, "no mark: a file page")
        frames.setFlags(.anonymous, of: address)
        #expect(ResidentKind.of(address, frames) == .anonymous)
        frames.setFlags(.sharedMemory, of: address)
        #expect(ResidentKind.of(address, frames) == .shared)
        frames.releaseFrame(frame)
    }

    @Test func theCheckerCatchesAWrongCounter() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 1, at: Self.page(0))
            for (field, rule) in [(0, "mapped pages"), (1, "mapped pages"), (2, "mapped pages"),
                                  (3, "rss counters"), (4, "rss counters"), (5, "rss counters")] {
                let kept = space.counters
                switch field {
                case 0: space.counters.totalPages += 1
                case 1: space.counters.dataPages -= 1
                case 2: space.counters.stackPages += 1
                case 3: space.counters.anonymousPages -= 1
                case 4: space.counters.filePages += 1
                default: space.counters.sharedPages += 1
                }
                do throws(VMInvariantViolation) {
                    var checker = VMInvariantChecker<SimulatedPhysicalMemory, TestFrameProvider>(frames: machine.frames)
                    try checker.add(space)
                    Issue.record("field \(field): a wrong counter passed the checker")
                } catch {
                    #expect("\(error.rule)" == rule, "field \(field)")
                }
                space.counters = kept
            }
        }
    }
}

@Suite struct UserAddressSpaceLimitsTests {
    static let base: UInt64 = 0x4000_0000
    static let heap: UInt64 = 0x60_0000

    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }

    /// Expects `operation` to throw `.limitExceeded` and change neither
    /// the regions nor the counters.
    static func expectRefused(_ space: inout TestSpace, _ what: String,
                              _ operation: (inout TestSpace) throws(VMError) -> Void) {
        let regions = space.regionShapes, kept = space.counters
        do throws(VMError) {
            try operation(&space)
            Issue.record("\(what): succeeded")
        } catch {
            #expect(error == .limitExceeded && error.errno == 12, "\(what): \(error)")
        }
        #expect(space.regionShapes == regions && space.counters == kept, "\(what): nothing changed")
    }

    @Test func addressSpaceLimitCapsMmapAndBrkAndCountsReplacedPagesAsFreed() throws {
        try withSpace { space, _, machine in
            space.limits = MemoryLimits(addressSpace: 10 * pageSize + 100)   // rounds down to 10 pages
            try space.mapFixed(Self.page(0), pages: 8, .noAccess, tlb: machine.mmu)
            Self.expectRefused(&space, "3 pages more") { space throws(VMError) in
                _ = try space.mapAnywhere(pages: 3, .read, tlb: machine.mmu)
            }
            let two = try space.mapAnywhere(pages: 2, .read, tlb: machine.mmu)
            #expect(space.counters.totalPages == 10)
            Self.expectRefused(&space, "1 page more") { space throws(VMError) in
                _ = try space.mapAnywhere(pages: 1, .read, tlb: machine.mmu)
            }
            Self.expectRefused(&space, "1 shared page more") { space throws(VMError) in
                try space.mapShared(Self.page(20), pages: 1, .readWrite, frames: machine.frames, tlb: machine.mmu)
            }
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            #expect(space.counters.totalPages == 10, "a MAP_FIXED replacement needs no room")
            Self.expectRefused(&space, "MAP_FIXED half over old pages") { space throws(VMError) in
                try space.mapFixed(Self.page(7), pages: 3, .read, tlb: machine.mmu)
            }
            space.setInitialBreak(VirtualAddress(Self.heap))
            #expect(space.setBreak(VirtualAddress(Self.heap + 1), tlb: machine.mmu).raw == Self.heap, "brk refused")
            try space.unmap(two..<two + pageSize, tlb: machine.mmu)
            #expect(space.setBreak(VirtualAddress(Self.heap + 1), tlb: machine.mmu).raw == Self.heap + 1, "brk fits")
            #expect(space.counters.totalPages == 10)
            _ = space.setBreak(VirtualAddress(Self.heap), tlb: machine.mmu)
            try space.mapFixed(Self.page(8), pages: 1, .read, tlb: machine.mmu)
            space.limits = .unlimited
            _ = try space.mapAnywhere(pages: 1000, .noAccess, tlb: machine.mmu)
            #expect(space.counters.totalPages == 1010)
        }
    }

    @Test func dataLimitCapsPrivateWritableMappingsOnly() throws {
        try withSpace { space, _, machine in
            space.limits = MemoryLimits(data: 4 * pageSize)
            Self.expectRefused(&space, "5 private writable pages") { space throws(VMError) in
                try space.mapFixed(Self.page(0), pages: 5, .readWrite, tlb: machine.mmu)
            }
            Self.expectRefused(&space, "5 private rwx pages") { space throws(VMError) in
                try space.mapFixed(Self.page(0), pages: 5, [.read, .write, .execute], tlb: machine.mmu)
            }
            Self.expectRefused(&space, "5 write-only pages") { space throws(VMError) in
                try space.mapFixed(Self.page(0), pages: 5, .write, tlb: machine.mmu)
            }
            try space.mapFixed(Self.page(0), pages: 5, .read, tlb: machine.mmu)                      // A
            try space.mapShared(Self.page(10), pages: 5, .readWrite, frames: machine.frames, tlb: machine.mmu)
            try space.mapFixed(Self.page(20), pages: 5, .readWrite, kind: .stack, tlb: machine.mmu)
            try space.mapFixed(Self.page(30), pages: 4, .readWrite, tlb: machine.mmu)                // B
            #expect(space.counters == counters(total: 19, data: 4, stack: 5))
            Self.expectRefused(&space, "1 page more") { space throws(VMError) in
                try space.mapFixed(Self.page(40), pages: 1, .readWrite, tlb: machine.mmu)
            }
            try space.mapFixed(Self.page(40), pages: 1, .read, tlb: machine.mmu)
            Self.expectRefused(&space, "mprotect to writable") { space throws(VMError) in
                try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(1)), to: .readWrite,
                                  tlb: machine.mmu)
            }
            try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(5)), to: .readExecute,
                              tlb: machine.mmu)
            try space.protect(VirtualAddress(Self.page(10))..<VirtualAddress(Self.page(15)), to: .readWrite,
                              tlb: machine.mmu)
            try space.protect(VirtualAddress(Self.page(30))..<VirtualAddress(Self.page(32)), to: .read, tlb: machine.mmu)
            try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(2)), to: .readWrite,
                              tlb: machine.mmu)
            #expect(space.counters.dataPages == 4, "two pages freed, two taken")
            try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(2)), to: .readWrite,
                              tlb: machine.mmu)  // unchanged protection: no check (mprotect_fixup returns early)

            // brk: check_data_rlimit on the break, then may_expand_vm on the growth.
            space.setInitialBreak(VirtualAddress(Self.heap))
            #expect(space.setBreak(VirtualAddress(Self.heap + 1), tlb: machine.mmu).raw == Self.heap, "data full")
            try space.unmap(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(40)), tlb: machine.mmu)
            #expect(space.counters.dataPages == 0)
            #expect(space.setBreak(VirtualAddress(Self.heap + 4 * pageSize + 1), tlb: machine.mmu).raw == Self.heap,
                    "a break past the limit")
            #expect(space.setBreak(VirtualAddress(Self.heap + 4 * pageSize), tlb: machine.mmu).raw
                    == Self.heap + 4 * pageSize, "a break at the limit")
            space.limits = MemoryLimits(data: 2 * pageSize)
            #expect(space.setBreak(VirtualAddress(Self.heap + 3 * pageSize), tlb: machine.mmu).raw
                    == Self.heap + 4 * pageSize, "a lowered limit refuses even a shrink (Linux)")
            #expect(space.setBreak(VirtualAddress(Self.heap + 2 * pageSize), tlb: machine.mmu).raw
                    == Self.heap + 2 * pageSize, "a shrink within the limit")
            #expect(space.setBreak(VirtualAddress(0), tlb: machine.mmu).raw == Self.heap + 2 * pageSize, "brk(0)")
            #expect(space.counters == counters(total: 3, data: 2))
        }
    }

    @Test func aSoftDataLimitOfZeroDefersToTheHardOne() throws {
        try withSpace { space, _, machine in
            space.limits = MemoryLimits(data: 0, dataMaximum: 3 * pageSize)
            try space.mapFixed(Self.page(0), pages: 3, .readWrite, tlb: machine.mmu)
            Self.expectRefused(&space, "past the hard limit") { space throws(VMError) in
                try space.mapFixed(Self.page(10), pages: 1, .readWrite, tlb: machine.mmu)
            }
            space.setInitialBreak(VirtualAddress(Self.heap))
            #expect(space.setBreak(VirtualAddress(Self.heap + 1), tlb: machine.mmu).raw == Self.heap,
                    "check_data_rlimit has no such workaround")
            space.limits = MemoryLimits(data: 0, dataMaximum: 0)
            try space.unmap(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(3)), tlb: machine.mmu)
            Self.expectRefused(&space, "a hard limit of 0 too") { space throws(VMError) in
                try space.mapFixed(Self.page(0), pages: 1, .readWrite, tlb: machine.mmu)
            }
        }
    }

    @Test func mprotectDecidesRegionByRegionButChangesNothingOnRefusal() throws {
        try withSpace { space, _, machine in
            // Two read-only regions that never merge (an image and an anonymous one).
            try space.mapFixed(Self.page(0), pages: 2, .read, kind: .image, tlb: machine.mmu)
            try space.mapFixed(Self.page(2), pages: 2, .read, tlb: machine.mmu)
            space.limits = MemoryLimits(data: 3 * pageSize)
            Self.expectRefused(&space, "the second region does not fit after the first") { space throws(VMError) in
                try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(4)), to: .readWrite,
                                  tlb: machine.mmu)
            }
            try space.protect(VirtualAddress(Self.page(1))..<VirtualAddress(Self.page(4)), to: .readWrite,
                              tlb: machine.mmu)
            #expect(space.counters == counters(total: 4, data: 3))
            // Linux's quirk: a region that did not fit as it was either
            // (RLIMIT_AS already exceeded) may turn into data.
            space.limits = MemoryLimits(addressSpace: 2 * pageSize, data: 3 * pageSize)
            try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(1)), to: .readWrite,
                              tlb: machine.mmu)
            #expect(space.counters == counters(total: 4, data: 4))
        }
    }

    @Test func checkMappingGrowthIsMayExpandVM() throws {
        try withSpace { space, _, machine in
            try space.mapFixed(Self.page(0), pages: 3, .readWrite, tlb: machine.mmu)
            space.limits = MemoryLimits(addressSpace: 8 * pageSize, data: 5 * pageSize)
            let writable = space.regions[0], readOnly = space.regions[0].with(protection: .read)
            #expect(throws: Never.self) { try space.checkMappingGrowth(byPages: 2, like: writable) }
            #expect(throws: VMError.limitExceeded) { try space.checkMappingGrowth(byPages: 3, like: writable) }
            #expect(throws: Never.self) { try space.checkMappingGrowth(byPages: 5, like: readOnly) }
            #expect(throws: VMError.limitExceeded) { try space.checkMappingGrowth(byPages: 6, like: readOnly) }
        }
    }

    @Test func forkCopiesTheLimitsAndTheChildEnforcesThem() throws {
        try withSpace { space, kernel, machine in
            space.limits = MemoryLimits(addressSpace: 6 * pageSize, data: 2 * pageSize)
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            try withFork(of: &space, kernel: kernel, machine) { space, child in
                #expect(child.limits == space.limits)
                Self.expectRefused(&child, "the child's data limit") { child throws(VMError) in
                    try child.mapFixed(Self.page(4), pages: 1, .readWrite, tlb: machine.mmu)
                }
                try child.mapFixed(Self.page(4), pages: 4, .read, tlb: machine.mmu)
                Self.expectRefused(&child, "the child's address-space limit") { child throws(VMError) in
                    try child.mapFixed(Self.page(10), pages: 1, .read, tlb: machine.mmu)
                }
            }
        }
    }

    @Test func memoryLimitsMirrorTheResourceLimits() {
        var limits = ResourceLimits(memoryBytes: 1 << 30)
        #expect(MemoryLimits(limits) == .unlimited)
        _ = try? limits.set(UInt64(ResourceLimits.Resource.addressSpace.rawValue),
                            to: ResourceLimit(current: 1 << 20, maximum: 2 << 20), privileged: false)
        _ = try? limits.set(UInt64(ResourceLimits.Resource.data.rawValue),
                            to: ResourceLimit(current: 0, maximum: 3 << 20), privileged: false)
        #expect(MemoryLimits(limits) == MemoryLimits(addressSpace: 1 << 20, data: 0, dataMaximum: 3 << 20))
    }
}
