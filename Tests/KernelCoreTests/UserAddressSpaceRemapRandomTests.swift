// Randomized test of mremap against a reference model (the companion of
// UserAddressSpaceRandomTests, kept apart so that each model stays small):
// page number -> (protection, kind, the word at the page's start), or
// absent. Random fixed maps, unmaps and writes, and random mremaps of a
// range inside one region in every form (shrink, grow in place, MAYMOVE,
// FIXED, DONTUNMAP, with and without a size change, overlapping FIXED
// targets), predicted from the model and the region the range lies in
// (mm/mremap.c semantics, see UserAddressSpace+Remap.swift). After every
// step the regions must agree with the model page by page, mergeable
// neighbours must have merged, every leaf must lie in a page the model
// allows and that was touched, the VMInvariantChecker must pass (with the
// reverse map following moved pages), a few pages are probed through the
// fake CPU with a warm TLB (contents as the model says), and the TLB model
// must report no stale entry. `withSpace` checks for leaked frames at the end.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceRemapRandomTests {
    struct ModelPage: Equatable {
        var protection: VMProtection
        var kind: RegionKind
        /// The word at the page's start; nil for PROT_NONE.
        var value: UInt64?
    }
    typealias Model = [UInt64: ModelPage]

    static let windowPages: UInt64 = 64
    static let firstPage: UInt64 = (0x4020_0000 - (windowPages / 2) * pageSize) / pageSize
    static let protections: [VMProtection] = [.noAccess, .read, .readWrite, .readWrite, [.read, .write, .execute]]
    static let kinds: [RegionKind] = [.anonymous, .anonymous, .heap, .image]
    static let forms: [RemapOptions] = [[], .mayMove, .mayMove, [.mayMove, .fixed], [.mayMove, .fixed],
                                        [.mayMove, .dontUnmap], [.mayMove, .fixed, .dontUnmap]]

    static func address(_ page: UInt64) -> UInt64 { page * pageSize }
    static func fresh(_ protection: VMProtection, _ kind: RegionKind) -> ModelPage {
        ModelPage(protection: protection, kind: kind, value: protection.allowsAccess ? 0 : nil)
    }

    @Test(arguments: [0x0005_E3A0_0001, 0x0005_E3A0_0002, 0x0005_E3A0_0003, 0x0005_E3A0_0004] as [UInt64])
    func randomRemapsMatchTheModel(seed: UInt64) throws {
        try withSpace { space, _, machine in
            var random = SplitMix64(seed: seed)
            var model: Model = [:]
            var touched: Set<UInt64> = []
            for step in 0..<300 {
                let start = Self.firstPage + random.next() % Self.windowPages
                let range = start..<start + 1 + random.next() % 8
                switch random.next() % 10 {
                case 0..<3:
                    let protection = Self.protections.randomElement(using: &random)!
                    let kind = Self.kinds.randomElement(using: &random)!
                    _ = try space.map(MapRequest(address: VirtualAddress(Self.address(range.lowerBound)),
                                                 length: Self.address(UInt64(range.count)), protection: protection,
                                                 kind: kind, fixed: true), tlb: machine.mmu)
                    for page in range { model[page] = Self.fresh(protection, kind) }
                case 3:
                    try space.unmap(VirtualAddress(Self.address(range.lowerBound))
                                    ..< VirtualAddress(Self.address(range.upperBound)), tlb: machine.mmu)
                    for page in range { model[page] = nil }
                case 4..<6:
                    let accessible = model.filter { $0.value.value != nil }.keys.sorted()
                    guard let page = accessible.randomElement(using: &random) else { break }
                    let value = random.next()
                    try space.kernelStore(machine, value, at: Self.address(page))
                    model[page]!.value = value
                    touched.insert(page)
                default:
                    Self.remapStep(&space, machine, &model, &touched, &random, step: step)
                }
                Self.check(&space, model, machine, step: step, touched: &touched, random: &random)
            }
        }
    }

    /// Hostile arguments (issue [6]): random values from the edges of every
    /// range, any flag combination. mremap must return a result or an
    /// error, never trap, and leave the invariants whole.
    @Test func arbitraryArgumentsNeverTrapAndKeepTheInvariants() throws {
        try withSpace { space, _, machine in
            var random = SplitMix64(seed: 0xBAD_A4C5)
            let edges: [UInt64] = [0, 1, pageSize - 1, pageSize, pageSize + 1, 0x1_0000, 0x4000_0000,
                                   TestSpace.userEnd.raw - pageSize, TestSpace.userEnd.raw, TestSpace.userEnd.raw + pageSize,
                                   1 << 47, UInt64.max - pageSize + 1, UInt64.max, UInt64.max / 2]
            func pick() -> UInt64 {
                switch random.next() % 3 {
                case 0: return edges.randomElement(using: &random)!
                case 1: return Self.address(Self.firstPage + random.next() % Self.windowPages)
                default: return (random.next() % 32) * pageSize + (random.next() % 4 == 0 ? random.next() % pageSize : 0)
                }
            }
            for step in 0..<3000 {
                if step % 10 == 0 {
                    let page = Self.firstPage + random.next() % Self.windowPages
                    let backing: RegionBacking = random.next() % 3 == 0
                        ? .shared(SharedMemory(pageCount: 4, frames: machine.frames)) : .privateAnonymous
                    _ = try space.map(MapRequest(address: VirtualAddress(Self.address(page)), length: 4 * pageSize,
                                                 protection: .readWrite, fixed: true, backing: backing,
                                                 pageOffset: backing.isPrivate ? nil : 0), tlb: machine.mmu)
                    _ = space.userStore(machine, UInt64(step), at: Self.address(page))
                }
                let request = RemapRequest(oldAddress: VirtualAddress(pick()), oldLength: pick(), newLength: pick(),
                                           options: RemapOptions(rawValue: random.next() % 8),
                                           newAddress: VirtualAddress(pick()))
                do throws(VMError) {
                    _ = try space.remap(request, tlb: machine.mmu)
                } catch {
                    _ = error
                }
                if step % 100 == 0 {
                    checkInvariants(machine, "step \(step)") { checker throws(VMInvariantViolation) in
                        try checker.add(space)
                    }
                }
            }
            #expect(machine.mmu.staleReports.isEmpty, "\(machine.mmu.staleReports)")
        }
    }

    /// One random mremap of a range inside a random region, checked
    /// against the model's prediction, which it then applies.
    static func remapStep(_ space: inout TestSpace, _ machine: PagingMachine, _ model: inout Model,
                          _ touched: inout Set<UInt64>, _ random: inout SplitMix64, step: Int) {
        let regions = space.regions
        guard let region = regions.randomElement(using: &random) else { return }
        let regionFirst = region.start.raw / pageSize, regionEnd = region.end.raw / pageSize
        let old = regionFirst + random.next() % (regionEnd - regionFirst)
        let oldPages = 1 + random.next() % (regionEnd - old)
        let options = forms.randomElement(using: &random)!
        let newPages = options.contains(.dontUnmap) ? oldPages : 1 + random.next() % 10
        let target = firstPage + random.next() % windowPages
        let request = RemapRequest(oldAddress: VirtualAddress(address(old)), oldLength: address(oldPages),
                                   newLength: address(newPages), options: options,
                                   newAddress: VirtualAddress(address(target)))
        let context = "step \(step): remap \(old)+\(oldPages) -> \(newPages) \(options.rawValue) @\(target)"
        let result: UInt64
        do throws(VMError) {
            result = try space.remap(request, tlb: machine.mmu).raw / pageSize
        } catch {
            let overlapping = old + oldPages > target && target + newPages > old
            let blocked = !options.contains(.mayMove) && newPages > oldPages
            let expected: VMError = request.impliesNewAddress && overlapping ? .invalidArgument : .noSpace
            #expect(error == expected && (overlapping || blocked), "\(context): \(error)")
            #expect(space.regions == regions, "\(context): a refused mremap changed the regions")
            return
        }
        let pages = (0..<oldPages).map { model[old + $0] }
        let template = ModelPage(protection: region.protection, kind: region.kind,
                                 value: region.protection.allowsAccess ? 0 : nil)
        let impliesNewAddress = request.impliesNewAddress
        if !impliesNewAddress && newPages <= oldPages || !impliesNewAddress && result == old {
            #expect(result == old, "\(context): resized in place")
            for page in old + min(oldPages, newPages)..<old + oldPages { model[page] = nil }
            if newPages > oldPages {
                #expect(region.end.raw / pageSize == old + oldPages, "\(context): grew in place from inside")
                for page in old + oldPages..<old + newPages {
                    #expect(model[page] == nil, "\(context): grew over page \(page)")
                    model[page] = template
                }
            }
            return
        }
        // A move: to the FIXED target, or where the space chose (DONTUNMAP's free hint is defined).
        #expect(!options.contains(.fixed) || result == target, "\(context): FIXED honoured")
        if options == [.mayMove, .dontUnmap] && (target..<target + newPages).allSatisfy({ model[$0] == nil }) {
            #expect(result == target, "\(context): the free hint is taken")
        }
        #expect(newPages > oldPages || impliesNewAddress, "\(context): moved although it could shrink")
        if !impliesNewAddress {
            let couldGrow = region.end.raw / pageSize == old + oldPages
                && (old + oldPages..<old + newPages).allSatisfy { model[$0] == nil }
            #expect(!couldGrow, "\(context): moved although it could grow in place")
        }
        for page in result..<result + newPages where !options.contains(.fixed) {
            #expect(model[page] == nil, "\(context): moved over page \(page)")
        }
        for page in result..<result + newPages { model[page] = nil }
        let kept = min(oldPages, newPages)
        for page in old..<old + oldPages {
            model[page] = options.contains(.dontUnmap) ? template : nil
        }
        for index in 0..<kept {
            model[result + index] = pages[Int(index)]
            if touched.contains(old + index) { touched.insert(result + index) }
        }
        for page in result + kept..<result + newPages { model[page] = template }
    }

    /// The regions against the model, the leaves, the invariants, a few
    /// probes through the fake CPU, and the TLB model.
    static func check(_ space: inout TestSpace, _ model: Model, _ machine: PagingMachine, step: Int,
                      touched: inout Set<UInt64>, random: inout SplitMix64) {
        let regions = space.regions
        var fromRegions: [UInt64: (VMProtection, RegionKind)] = [:]
        for (index, region) in regions.enumerated() {
            if index > 0 {
                #expect(regions[index - 1].end <= region.start, "step \(step): sorted and disjoint")
                #expect(!regions[index - 1].canMerge(with: region), "step \(step): mergeable neighbours left apart")
            }
            for page in region.start.raw / pageSize..<region.end.raw / pageSize {
                fromRegions[page] = (region.protection, region.kind)
            }
        }
        #expect(Set(fromRegions.keys) == Set(model.keys), "step \(step): pages in regions")
        for (page, expected) in model where fromRegions[page]?.0 != expected.protection
            || fromRegions[page]?.1 != expected.kind {
            Issue.record("step \(step): page \(page) is \(String(describing: fromRegions[page])), model \(expected)")
        }
        var leaves = 0
        space.table.forEachLeaf(in: TestSpace.userStart..<TestSpace.userEnd) { address, _ in
            leaves += 1
            let page = address.raw / pageSize
            #expect(model[page]?.protection.allowsAccess == true, "step \(step): leaf at page \(page)")
            #expect(touched.contains(page), "step \(step): page \(page) has a leaf but was never touched")
        }
        #expect(space.residentPages == leaves, "step \(step): resident pages")
        checkInvariants(machine, "step \(step)") { checker throws(VMInvariantViolation) in try checker.add(space) }
        let accessible = model.filter { $0.value.value != nil }.keys.sorted()
        for _ in 0..<3 {
            guard let page = accessible.randomElement(using: &random) else { break }
            #expect(space.userLoad(machine, address(page)) == model[page]!.value, "step \(step): page \(page)")
            touched.insert(page)
        }
        let unmapped = firstPage + random.next() % windowPages
        if model[unmapped] == nil {
            #expect(space.userAccess(address(unmapped), .read, machine) == .fault(.notMapped),
                    "step \(step): page \(unmapped) is unmapped")
        }
        #expect(machine.mmu.staleReports.isEmpty, "step \(step): \(machine.mmu.staleReports)")
    }
}
