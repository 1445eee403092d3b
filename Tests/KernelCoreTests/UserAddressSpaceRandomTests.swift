// Randomized test of the user address space against a reference model:
// page number -> (protection, kind, the word at the page's start), or
// absent. Random fixed and hinted maps, unmaps, protects and writes in a
// small window straddling a 2 MiB boundary (so page tables come and go);
// after every step the regions, the page table (through the fake MMU's
// user accesses, with its TLB warm from earlier steps), the contents and
// the frame counts must all agree with the model.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceRandomTests {
    struct ModelPage: Equatable {
        var protection: VMProtection
        var kind: RegionKind
        /// The word at the page's start; nil for PROT_NONE (no frame).
        var value: UInt64?
    }

    static let windowPages: UInt64 = 48
    static let windowStart: UInt64 = 0x4020_0000 - (windowPages / 2) * pageSize
    static let protections: [VMProtection] = [.noAccess, .read, .readWrite, .readExecute, .write, [.read, .write, .execute]]
    static let kinds: [RegionKind] = [.anonymous, .anonymous, .image, .heap]

    static func address(_ page: UInt64) -> UInt64 { page * pageSize }
    static func pages(_ range: Range<UInt64>) -> Range<VirtualAddress> {
        VirtualAddress(address(range.lowerBound))..<VirtualAddress(address(range.upperBound))
    }

    @Test(arguments: [0x00A5_0001, 0x00A5_0002, 0x00A5_0003] as [UInt64])
    func randomOperationsMatchTheModel(seed: UInt64) throws {
        try withSpace { space, _, machine in
            var random = SplitMix64(seed: seed)
            var model: [UInt64: ModelPage] = [:]
            let firstPage = Self.windowStart / pageSize
            func randomRange() -> Range<UInt64> {
                let start = firstPage + UInt64.random(in: 0..<Self.windowPages, using: &random)
                let length = UInt64.random(in: 1...10, using: &random)
                return start..<min(start + length, firstPage + Self.windowPages + 2)
            }
            func fresh(_ protection: VMProtection, _ kind: RegionKind) -> ModelPage {
                ModelPage(protection: protection, kind: kind, value: protection.allowsAccess ? 0 : nil)
            }

            for step in 0..<400 {
                let protection = Self.protections.randomElement(using: &random)!
                let kind = Self.kinds.randomElement(using: &random)!
                let range = randomRange()
                switch UInt64.random(in: 0..<10, using: &random) {
                case 0..<3:
                    _ = try space.map(MapRequest(address: VirtualAddress(Self.address(range.lowerBound)),
                                                 length: Self.address(UInt64(range.count)), protection: protection,
                                                 kind: kind, fixed: true), tlb: machine.mmu)
                    for page in range { model[page] = fresh(protection, kind) }
                case 3:
                    let start = try space.map(MapRequest(address: VirtualAddress(Self.address(range.lowerBound)),
                                                         length: Self.address(UInt64(range.count)), protection: protection,
                                                         kind: kind), tlb: machine.mmu)
                    let hintFree = range.allSatisfy { model[$0] == nil }
                    #expect((start.raw == Self.address(range.lowerBound)) == hintFree, "step \(step): hint use")
                    let first = start.raw / pageSize
                    #expect((first..<first + UInt64(range.count)).allSatisfy { model[$0] == nil })
                    for page in first..<first + UInt64(range.count) { model[page] = fresh(protection, kind) }
                case 4..<6:
                    try space.unmap(Self.pages(range), tlb: machine.mmu)
                    for page in range { model[page] = nil }
                case 6..<9:
                    let covered = range.allSatisfy { model[$0] != nil }
                    do throws(VMError) {
                        try space.protect(Self.pages(range), to: protection, tlb: machine.mmu)
                        #expect(covered, "step \(step): protect of a partly unmapped range succeeded")
                        for page in range {
                            let old = model[page]!
                            let value: UInt64? = protection.allowsAccess ? (old.value ?? 0) : nil
                            model[page] = ModelPage(protection: protection, kind: old.kind, value: value)
                        }
                    } catch {
                        #expect(error == .notMapped && !covered, "step \(step): \(error)")
                    }
                default:
                    let resident = model.filter { $0.value.value != nil }.keys.sorted()
                    guard let page = resident.randomElement(using: &random) else { break }
                    let value = random.next()
                    try withUnsafeBytes(of: value) { try space.write($0, at: VirtualAddress(Self.address(page))) }
                    model[page]!.value = value
                }
                Self.check(space, model, machine, step: step, window: firstPage..<firstPage + Self.windowPages + 2)
            }
        }
    }

    /// Compares the space with the model: regions and their invariants,
    /// page-table entries, user access outcomes, contents and frame counts.
    static func check(_ space: borrowing TestSpace, _ model: [UInt64: ModelPage], _ machine: PagingMachine,
                      step: Int, window: Range<UInt64>) {
        let regions = space.regions
        var fromRegions: [UInt64: (VMProtection, RegionKind)] = [:]
        for (index, region) in regions.enumerated() {
            #expect(region.start < region.end && region.start.isPageAligned && region.end.isPageAligned)
            if index > 0 {
                #expect(regions[index - 1].end <= region.start, "step \(step): regions sorted and disjoint")
                #expect(!regions[index - 1].canMerge(with: region), "step \(step): mergeable neighbours left apart")
            }
            for page in region.start.raw / pageSize..<region.end.raw / pageSize {
                fromRegions[page] = (region.protection, region.kind)
            }
        }
        #expect(Set(fromRegions.keys) == Set(model.keys), "step \(step): pages in regions")
        for (page, expected) in model {
            #expect(fromRegions[page]?.0 == expected.protection && fromRegions[page]?.1 == expected.kind,
                    "step \(step): page \(page)")
        }

        var residentCount = 0
        for page in Set(window).union(model.keys) {
            let address = VirtualAddress(Self.address(page) + 8 * UInt64(page % 64))
            let expected = model[page]
            let effective = expected?.protection.effective ?? []
            let mapping = space.table.query(address)
            if effective.isEmpty {
                #expect(mapping == nil, "step \(step): page \(page) has no entry")
            } else {
                residentCount += 1
                #expect(mapping?.protection == expected!.protection.pageProtection && mapping?.ownsFrame == true,
                        "step \(step): page \(page) entry")
            }
            for (kind, right) in [(AccessKind.read, VMProtection.read), (.write, .write), (.execute, .execute)] {
                let result = machine.mmu.access(address, kind, .user)
                var allowed = false
                if case .success = result { allowed = true }
                #expect(allowed == effective.contains(right), "step \(step): page \(page) \(kind): \(result)")
            }
            if let value = expected?.value {
                #expect(machine.userLoad(Self.address(page)) == value, "step \(step): page \(page) contents")
            }
        }
        #expect(space.residentPages == residentCount, "step \(step): residentPages")
        #expect(machine.userFrames == residentCount, "step \(step): user frames")
        #expect(machine.mmu.staleReports.isEmpty, "step \(step): \(machine.mmu.staleReports)")
    }
}
