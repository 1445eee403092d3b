// Randomized model test of the memory counters and limits: random fixed
// and hinted maps (private and shared, every region kind), unmaps,
// protects, brk moves, user accesses, random RLIMIT_AS/RLIMIT_DATA values
// (Valgrind's soft 0 included) and forks. The model is page number ->
// (protection, kind, shared); the test predicts every refusal from it with
// its own copy of Linux's rules (may_expand_vm, check_data_rlimit,
// mprotect_fixup's "turns into data" check, decided region by region).
// After every step:
// - the mapped-page counters equal the model's (total, data, stack);
// - the RSS counters equal a recount of the leaves, classified by their
//   region (shared object or private) and the zero page (none);
// - the VMInvariantChecker passes (it recounts the counters too);
// and at a fork, the child's counters likewise.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceLimitsRandomTests {
    struct Page: Equatable {
        var protection: VMProtection
        var kind: RegionKind
        var shared: Bool
        var isData: Bool { protection.contains(.write) && !shared && kind != .stack }
    }

    static let windowPages: UInt64 = 48
    static let windowStart: UInt64 = 0x4020_0000 - (windowPages / 2) * pageSize
    static let firstPage = windowStart / pageSize
    static let breakStart = windowStart + 40 * pageSize
    static let protections: [VMProtection] = [.noAccess, .read, .readWrite, .readExecute, .write, [.read, .write, .execute]]
    static let kinds: [RegionKind] = [.anonymous, .anonymous, .image, .heap, .stack]

    static func address(_ page: UInt64) -> UInt64 { page * pageSize }
    static func pages(_ range: Range<UInt64>) -> Range<VirtualAddress> {
        VirtualAddress(address(range.lowerBound))..<VirtualAddress(address(range.upperBound))
    }

    /// The model's may_expand_vm.
    static func fits(_ model: [UInt64: Page], extra pages: Int, isData: Bool, _ limits: MemoryLimits,
                     data: Int? = nil) -> Bool {
        let data = data ?? model.values.filter(\.isData).count
        if model.count + pages > Int(clamping: limits.addressSpace / pageSize) { return false }
        if isData && data + pages > Int(clamping: limits.data / pageSize) {
            return limits.data == 0 && data + pages <= Int(clamping: limits.dataMaximum / pageSize)
        }
        return true
    }

    @Test(arguments: [0x11A1_0001, 0x11A1_0002, 0x11A1_0003, 0x11A1_0004] as [UInt64])
    func countersAndLimitsMatchTheModel(seed: UInt64) throws {
        try withSpace { space, kernel, machine in
            var random = SplitMix64(seed: seed)
            var model: [UInt64: Page] = [:]
            var breakEnd = Self.breakStart
            // How often each limit refused something: the test must hit them.
            var refusedMaps = 0, refusedProtects = 0, refusedBreaks = 0, forks = 0
            space.setInitialBreak(VirtualAddress(Self.breakStart))
            func randomRange() -> Range<UInt64> {
                let start = Self.firstPage + UInt64.random(in: 0..<Self.windowPages, using: &random)
                return start..<start + UInt64.random(in: 1...10, using: &random)
            }

            for step in 0..<500 {
                let context = "seed \(seed) step \(step)"
                let protection = Self.protections.randomElement(using: &random)!
                let range = randomRange()
                let limits = space.limits
                switch UInt64.random(in: 0..<20, using: &random) {
                case 0..<5:
                    let shared = random.next() % 5 == 0
                    let kind = shared ? RegionKind.anonymous : Self.kinds.randomElement(using: &random)!
                    let page = Page(protection: protection, kind: kind, shared: shared)
                    let replaced = range.filter { model[$0] != nil }.count
                    let expected = Self.fits(model, extra: range.count - replaced, isData: page.isData, limits)
                    let backing: RegionBacking = shared
                        ? .shared(SharedMemory(pageCount: UInt64(range.count), frames: machine.frames)) : .privateAnonymous
                    do throws(VMError) {
                        _ = try space.map(MapRequest(address: VirtualAddress(Self.address(range.lowerBound)),
                                                     length: Self.address(UInt64(range.count)), protection: protection,
                                                     kind: kind, fixed: true, backing: backing,
                                                     pageOffset: shared ? 0 : nil), tlb: machine.mmu)
                        #expect(expected, "\(context): fixed map past the limits succeeded")
                        for index in range { model[index] = page }
                    } catch {
                        #expect(!expected && error == .limitExceeded, "\(context): fixed map: \(error)")
                        refusedMaps += 1
                    }
                case 5..<7:
                    let kind = Self.kinds.randomElement(using: &random)!
                    let page = Page(protection: protection, kind: kind, shared: false)
                    let expected = Self.fits(model, extra: range.count, isData: page.isData, limits)
                    do throws(VMError) {
                        let start = try space.map(MapRequest(address: VirtualAddress(Self.address(range.lowerBound)),
                                                             length: Self.address(UInt64(range.count)),
                                                             protection: protection, kind: kind), tlb: machine.mmu)
                        #expect(expected, "\(context): hinted map past the limits succeeded")
                        let first = start.raw / pageSize
                        for index in first..<first + UInt64(range.count) { model[index] = page }
                    } catch {
                        #expect(!expected && error == .limitExceeded, "\(context): hinted map: \(error)")
                        refusedMaps += 1
                    }
                case 7..<9:
                    try space.unmap(Self.pages(range), tlb: machine.mmu)
                    for index in range { model[index] = nil }
                case 9..<12:
                    // Half the time a range that starts on a mapped page, so most are covered.
                    let mapped = model.keys.filter { Self.firstPage..<Self.firstPage + Self.windowPages ~= $0 }.sorted()
                    var range = range
                    if random.next() % 2 == 0, let start = mapped.randomElement(using: &random) {
                        range = start..<start + UInt64.random(in: 1...4, using: &random)
                    }
                    let covered = range.allSatisfy { model[$0] != nil }
                    var expected = covered
                    if covered && protection.contains(.write) {
                        // mprotect_fixup, region by region, the data count running.
                        var data = model.values.filter(\.isData).count
                        for region in space.regions {
                            guard let piece = region.clipped(to: Self.pages(range)), piece.protection != protection else {
                                continue
                            }
                            let oldPage = model[piece.start.raw / pageSize]!
                            var newPage = oldPage
                            newPage.protection = protection
                            let count = piece.pageCount
                            if !Self.fits(model, extra: count, isData: newPage.isData, limits, data: data)
                                && Self.fits(model, extra: count, isData: oldPage.isData, limits, data: data) {
                                expected = false
                                break
                            }
                            data += (newPage.isData ? count : 0) - (oldPage.isData ? count : 0)
                        }
                    }
                    do throws(VMError) {
                        try space.protect(Self.pages(range), to: protection, tlb: machine.mmu)
                        #expect(expected, "\(context): protect succeeded")
                        for index in range { model[index]!.protection = protection }
                    } catch {
                        #expect(!expected && error == (covered ? .limitExceeded : .notMapped), "\(context): \(error)")
                        if covered { refusedProtects += 1 }
                    }
                case 12..<14:
                    let requested = Self.breakStart + UInt64.random(in: 0...20, using: &random) * pageSize
                        + (random.next() % 2 == 0 ? 0 : UInt64.random(in: 1..<pageSize, using: &random))
                    var expectedEnd = breakEnd
                    let oldTop = (breakEnd + pageSize - 1) / pageSize, newTop = (requested + pageSize - 1) / pageSize
                    if limits.data == .max || requested - Self.breakStart <= limits.data {
                        if newTop > oldTop {
                            let heap = Page(protection: .readWrite, kind: .heap, shared: false)
                            if (oldTop..<newTop).allSatisfy({ model[$0] == nil })
                                && Self.fits(model, extra: Int(newTop - oldTop), isData: true, limits) {
                                for index in oldTop..<newTop { model[index] = heap }
                                expectedEnd = requested
                            }
                        } else {
                            for index in newTop..<oldTop { model[index] = nil }
                            expectedEnd = requested
                        }
                    }
                    let result = space.setBreak(VirtualAddress(requested), tlb: machine.mmu)
                    #expect(result.raw == expectedEnd, "\(context): brk(\(requested))")
                    if result.raw != requested { refusedBreaks += 1 }
                    breakEnd = result.raw
                case 14..<17:
                    let page = range.lowerBound
                    let address = Self.address(page) + 8
                    if model[page]?.protection.contains(.write) == true && random.next() % 2 == 0 {
                        let stored = space.userStore(machine, random.next(), at: address)
                        #expect(stored, "\(context): store")
                    } else {
                        _ = space.userAccess(address, .read, machine)
                    }
                case 17..<19:
                    let data = model.values.filter(\.isData).count
                    func around(_ count: Int) -> UInt64 {
                        UInt64(max(0, count + Int.random(in: -2...6, using: &random))) * pageSize
                            + (random.next() % 4 == 0 ? UInt64.random(in: 1..<pageSize, using: &random) : 0)
                    }
                    switch random.next() % 4 {
                    case 0: space.limits = .unlimited
                    case 1: space.limits = MemoryLimits(addressSpace: around(model.count))
                    case 2: space.limits = MemoryLimits(data: around(data))
                    default: space.limits = MemoryLimits(addressSpace: around(model.count), data: 0,
                                                         dataMaximum: around(data))
                    }
                default:
                    forks += 1
                    try withFork(of: &space, kernel: kernel, machine) { space, child in
                        #expect(child.limits == space.limits, "\(context): fork keeps the limits")
                        child.load(in: machine)
                        for index in model.keys.sorted() where model[index]!.protection.allowsAccess {
                            if model[index]!.protection.contains(.write) && random.next() % 3 == 0 {
                                child.userStore(machine, random.next(), at: Self.address(index))
                            } else if random.next() % 3 == 0 {
                                _ = child.userAccess(Self.address(index), .read, machine)
                            }
                        }
                        Self.check(child, model, machine, "\(context): child")
                        space.load(in: machine)
                        checkInvariants(machine, "\(context): fork") { checker throws(VMInvariantViolation) in
                            try checker.add(space)
                            try checker.add(child)
                        }
                    }
                }
                Self.check(space, model, machine, context)
                checkInvariants(machine, context) { checker throws(VMInvariantViolation) in try checker.add(space) }
            }
            print("seed \(seed): refused maps \(refusedMaps), protects \(refusedProtects), breaks \(refusedBreaks); forks \(forks)")
            #expect(refusedMaps > 0 && refusedProtects > 0 && refusedBreaks > 0 && forks > 0,
                    "every limit was hit and forks happened")
        }
    }

    /// The counters against the model (mapped pages) and the leaves (RSS).
    static func check(_ space: borrowing TestSpace, _ model: [UInt64: Page], _ machine: PagingMachine,
                      _ context: String) {
        var expected = MemoryCounters()
        expected.totalPages = model.count
        expected.dataPages = model.values.filter(\.isData).count
        expected.stackPages = model.values.filter { $0.kind == .stack }.count
        // Parked (PROT_NONE) leaves stay resident, as on Linux.
        space.table.forEachLeaf(in: TestSpace.userStart..<TestSpace.userEnd, includingParked: true) { address, entry in
            guard entry.address(at: .pageTable) != machine.frames.zeroFrame else { return }
            guard let region = space.region(containing: address) else { return }
            if region.backing.isPrivate { expected.anonymousPages += 1 } else { expected.sharedPages += 1 }
        }
        #expect(space.counters == expected, "\(context): counters \(space.counters), expected \(expected)")
    }
}
