// Host tests of the region index (Kernel/VM/RegionTree.swift under
// Kernel/VM/RegionList.swift) and of the region cap.
//
// - Randomized: inserts (MAP_FIXED style: remove, then insert), removes,
//   replaces with mixed pieces (mprotect), lineage attaches, and every
//   query (lookup, pieces, isFree, covers, gap search) against a plain
//   sorted array that does each operation the obvious O(n) way. Kinds,
//   protections, page offsets and lineages are random so that merges and
//   splits happen in every combination. After every step the tree's own
//   invariants hold (`isValid`), the regions equal the model's, and the
//   count the cap check predicted is the count that resulted.
// - Structure: large trees built and torn down in random order stay
//   balanced and valid, and their node array shrinks back (compaction).
// - The cap through UserAddressSpace: exactly RegionList.maxCount regions
//   are fine; the next mmap, split by mprotect or munmap, and brk fail
//   with `.tooManyRegions` (ENOMEM), leaving regions, page tables and
//   resident pages as they were; operations that do not add a region
//   (merges, whole unmaps) still work at the cap.

import Testing
@testable import KernelCore
import FakeMMU

/// The reference: a sorted array, every operation done the obvious way.
private struct SortedListModel {
    var regions: [Region] = []

    func region(containing address: VirtualAddress) -> Region? {
        regions.first { $0.range.contains(address) }
    }

    func pieces(in range: Range<VirtualAddress>) -> [Region] {
        regions.compactMap { $0.clipped(to: range) }
    }

    func isFree(_ range: Range<VirtualAddress>) -> Bool {
        regions.allSatisfy { $0.clipped(to: range) == nil }
    }

    func covers(_ range: Range<VirtualAddress>, where condition: (Region) -> Bool) -> Bool {
        var page = range.lowerBound
        while page < range.upperBound {
            guard let region = region(containing: page), condition(region) else { return false }
            page = page + pageSize
        }
        return true
    }

    /// Every piece of [lo, hi) no region covers, in order; the highest that
    /// holds `length` gives the answer.
    func highestGap(length: UInt64, in bounds: Range<VirtualAddress>) -> VirtualAddress? {
        var free: [Range<UInt64>] = []
        var cursor = bounds.lowerBound.raw
        for region in regions {
            if region.end.raw <= cursor { continue }
            if region.start.raw >= bounds.upperBound.raw { break }
            if region.start.raw > cursor { free.append(cursor..<region.start.raw) }
            cursor = Swift.max(cursor, region.end.raw)
        }
        if cursor < bounds.upperBound.raw { free.append(cursor..<bounds.upperBound.raw) }
        guard let gap = free.last(where: { $0.count >= length }) else { return nil }
        return VirtualAddress(gap.upperBound - length)
    }

    mutating func remove(_ range: Range<VirtualAddress>) {
        var kept: [Region] = []
        for region in regions {
            guard region.clipped(to: range) != nil else {
                kept.append(region)
                continue
            }
            if region.start < range.lowerBound { kept.append(region.with(range: region.start..<range.lowerBound)) }
            if region.end > range.upperBound { kept.append(region.with(range: range.upperBound..<region.end)) }
        }
        regions = kept
    }

    /// remove(range), add `pieces`, sort, merge every mergeable pair.
    mutating func place(_ pieces: [Region], over range: Range<VirtualAddress>) {
        remove(range)
        regions += pieces
        regions.sort { $0.start < $1.start }
        var merged: [Region] = []
        for region in regions {
            if let last = merged.last, last.canMerge(with: region) {
                merged[merged.count - 1] = last.merged(with: region)
            } else {
                merged.append(region)
            }
        }
        regions = merged
    }
}

/// The same region, lineage identity included.
private func identical(_ a: Region, _ b: Region) -> Bool {
    a == b && a.lineage === b.lineage
}

private func identical(_ a: [Region], _ b: [Region]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { identical($0, $1) }
}

@Suite struct RegionIndexTests {
    static let base: UInt64 = 0x0000_0040_0000_0000

    static func address(_ page: UInt64) -> VirtualAddress { VirtualAddress(base + page * pageSize) }
    static func pages(_ range: Range<UInt64>) -> Range<VirtualAddress> { address(range.lowerBound)..<address(range.upperBound) }

    /// A random region over `range`: protections, kinds and offsets chosen
    /// so that neighbours sometimes merge and sometimes cannot.
    static func randomRegion(_ range: Range<VirtualAddress>, _ rng: inout SplitMix64) -> Region {
        let protections: [VMProtection] = [.read, .readWrite, .noAccess]
        let kinds: [RegionKind] = [.anonymous, .anonymous, .anonymous, .heap, .image]
        let protection = protections[Int(rng.next() % 3)]
        let kind = kinds[Int(rng.next() % 5)]
        // Mostly the default offset (contiguous with anonymous neighbours),
        // sometimes one that breaks contiguity.
        let offset: UInt64? = rng.next() % 4 == 0 ? range.lowerBound.pageNumber + 1 + rng.next() % 3 : nil
        return Region(range: range, protection: protection, kind: kind, pageOffset: offset)
    }

    /// One random run of `steps` operations over a window of `windowPages`
    /// pages; the full comparison every `compareEvery` steps.
    static func randomRun(seed: UInt64, steps: Int, windowPages: UInt64, compareEvery: Int) {
        var rng = SplitMix64(seed: seed)
        var list = RegionList()
        var model = SortedListModel()
        func randomRange() -> Range<VirtualAddress> {
            let start = rng.next() % windowPages
            let longest = Swift.min(windowPages - start, rng.next() % 8 == 0 ? windowPages : 8)
            return pages(start..<start + 1 + rng.next() % longest)
        }
        for step in 0..<steps {
            let range = randomRange()
            let before = list.count
            var predicted = before
            switch rng.next() % 10 {
            case 0...3:  // mmap(MAP_FIXED): remove, then insert
                let region = randomRegion(range, &rng)
                predicted = list.count(afterPlacing: [region], over: range)
                list.remove(range)
                list.insert(region)
                model.place([region], over: range)
            case 4...5:
                predicted = list.count(afterPlacing: [], over: range)
                list.remove(range)
                model.remove(range)
            case 6...8:  // mprotect of a covered range, each piece its own protection, some split
                guard list.covers(range, where: { _ in true }) else { continue }
                var pieces: [Region] = []
                for piece in list.pieces(in: range) {
                    let protection: [VMProtection] = [.read, .readWrite, .noAccess]
                    if piece.pageCount > 1 && rng.next() % 3 == 0 {
                        let cut = piece.start + (1 + rng.next() % UInt64(piece.pageCount - 1)) * pageSize
                        pieces.append(piece.with(range: piece.start..<cut).with(protection: protection[Int(rng.next() % 3)]))
                        pieces.append(piece.with(range: cut..<piece.end).with(protection: protection[Int(rng.next() % 3)]))
                    } else {
                        pieces.append(piece.with(protection: protection[Int(rng.next() % 3)]))
                    }
                }
                predicted = list.count(afterPlacing: pieces, over: range)
                list.replace(range, with: pieces)
                model.place(pieces, over: range)
            default:  // the first fault in a private region gives it a lineage
                let first = range.lowerBound
                guard let region = list.region(containing: first), region.lineage == nil else { continue }
                let lineage = AnonLineage(member: 1)
                list.attach(lineage, toRegionContaining: first)
                let index = model.regions.firstIndex { $0.range.contains(first) }!
                model.regions[index].lineage = lineage
            }
            #expect(list.count == predicted, "seed \(seed) step \(step): the predicted count")
            #expect(list.isValid(), "seed \(seed) step \(step): the index's invariants")
            if step % compareEvery == 0 {
                #expect(identical(list.regions, model.regions), "seed \(seed) step \(step): the regions")
            }
            // Queries against the model.
            for _ in 0..<4 {
                let probe = address(rng.next() % (windowPages + 2)) + (rng.next() % pageSize)
                let found = list.region(containing: probe), expected = model.region(containing: probe)
                #expect(found.map { r in expected.map { identical(r, $0) } ?? false } ?? (expected == nil),
                        "seed \(seed) step \(step): region(containing: \(probe.raw))")
            }
            let query = randomRange()
            #expect(identical(list.pieces(in: query), model.pieces(in: query)), "seed \(seed) step \(step): pieces")
            #expect(list.isFree(query) == model.isFree(query), "seed \(seed) step \(step): isFree")
            let writable: (Region) -> Bool = { $0.protection.contains(.write) }
            #expect(list.covers(query, where: writable) == model.covers(query, where: writable),
                    "seed \(seed) step \(step): covers")
            #expect(list.covers(query, where: { _ in true }) == model.covers(query, where: { _ in true }))
            let length = (1 + rng.next() % 4) * pageSize
            let bounds = randomRange()
            let wide = address(0)..<address(windowPages + 8)
            #expect(list.highestGap(length: length, in: bounds) == model.highestGap(length: length, in: bounds),
                    "seed \(seed) step \(step): gap in \(bounds)")
            #expect(list.highestGap(length: length, in: wide) == model.highestGap(length: length, in: wide),
                    "seed \(seed) step \(step): gap in the window")
        }
        #expect(identical(list.regions, model.regions), "seed \(seed): the regions at the end")
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func smallWindowAgainstTheModel(seed: UInt64) {
        Self.randomRun(seed: seed, steps: 3000, windowPages: 48, compareEvery: 1)
    }

    @Test func largeWindowAgainstTheModel() {
        Self.randomRun(seed: 99, steps: 6000, windowPages: 4096, compareEvery: 25)
    }

    /// The gap search on a tree too large for luck: thousands of one-page
    /// regions with one-page holes, and a few wider holes, queried with
    /// random bounds (the O(log n) descent must find what a scan finds).
    @Test func gapSearchOverManyRegions() {
        var rng = SplitMix64(seed: 7)
        var regions: [Region] = []
        var model = SortedListModel()
        var page: UInt64 = 0
        for index in 0..<5000 {
            let protection: VMProtection = index % 2 == 0 ? .read : .readWrite
            regions.append(Region(range: Self.pages(page..<page + 1), protection: protection, kind: .anonymous))
            page += 2 + (rng.next() % 50 == 0 ? 1 + rng.next() % 4 : 0)
        }
        model.regions = regions
        let list = RegionList(regions)
        #expect(list.isValid())
        for _ in 0..<2000 {
            let low = rng.next() % page, high = low + 1 + rng.next() % (page - low)
            let length = (1 + rng.next() % 5) * pageSize
            let bounds = Self.pages(low..<high)
            #expect(list.highestGap(length: length, in: bounds) == model.highestGap(length: length, in: bounds))
        }
    }

    /// Many regions inserted, then removed in random order: the tree stays
    /// valid throughout and its node array shrinks with it.
    @Test func largeTreesStayBalancedAndShrink() {
        var rng = SplitMix64(seed: 11)
        var list = RegionList()
        let count: UInt64 = 20_000
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        for (step, slot) in order.enumerated() {
            list.insert(Region(range: Self.pages(2 * slot..<2 * slot + 1), protection: .read, kind: .anonymous))
            if step % 1000 == 0 { #expect(list.isValid()) }
        }
        #expect(list.count == Int(count) && list.isValid())
        order.shuffle(using: &rng)
        for (step, slot) in order.enumerated() {
            list.remove(Self.pages(2 * slot..<2 * slot + 1))
            if step % 1000 == 0 { #expect(list.isValid()) }
            #expect(list.indexSlots <= Swift.max(64, 4 * list.count + 4))
        }
        #expect(list.count == 0 && list.regions.isEmpty && list.isValid())
        // Filling every hole merges everything into one region, in one splice each.
        var filled = RegionList()
        for slot in 0..<1000 as Range<UInt64> {
            filled.insert(Region(range: Self.pages(2 * slot..<2 * slot + 1), protection: .read, kind: .anonymous))
        }
        filled.insert(Region(range: Self.pages(1999..<2000), protection: .read, kind: .anonymous))
        for slot in 0..<999 as Range<UInt64> {
            filled.insert(Region(range: Self.pages(2 * slot + 1..<2 * slot + 2), protection: .read, kind: .anonymous))
        }
        #expect(filled.count == 1 && filled.isValid() && filled.regions.first?.range == Self.pages(0..<2000))
    }

    /// One replace over thousands of alternating regions (mprotect across
    /// them) merges them into one, valid, and one more splits them back.
    @Test func oneReplaceAcrossThousandsOfRegions() {
        var regions: [Region] = []
        for page in 0..<10_000 as Range<UInt64> {
            regions.append(Region(range: Self.pages(page..<page + 1), protection: page % 2 == 0 ? .read : .readWrite,
                                  kind: .anonymous))
        }
        var list = RegionList(regions)
        let all = Self.pages(0..<10_000)
        let pieces = list.pieces(in: all).map { $0.with(protection: .read) }
        #expect(list.count(afterPlacing: pieces, over: all) == 1)
        list.replace(all, with: pieces)
        #expect(list.count == 1 && list.isValid())
        list.replace(all, with: regions)
        #expect(list.count == 10_000 && list.isValid() && identical(list.regions, regions))
    }
}

/// The cap (RegionList.maxCount, Linux vm.max_map_count) through the
/// address space's operations.
@Suite struct RegionCapTests {
    static let base: UInt64 = 0x0000_0040_0000_0000
    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }
    static func pages(_ range: Range<UInt64>) -> Range<VirtualAddress> {
        VirtualAddress(page(range.lowerBound))..<VirtualAddress(page(range.upperBound))
    }
    static func protection(_ index: UInt64) -> VMProtection { index % 2 == 0 ? .read : .readWrite }

    /// Exactly `RegionList.maxCount` regions: maxCount - 1 one-page regions
    /// of alternating protection at pages 0, 1, ..., then one four-page
    /// region, `wide`, whose pages are touched.
    static func fillToTheCap(_ space: inout TestSpace, _ machine: PagingMachine) throws -> Range<UInt64> {
        let singles = UInt64(RegionList.maxCount - 1)
        for index in 0..<singles {
            try space.mapFixed(page(index), pages: 1, protection(index), tlb: machine.mmu)
        }
        try space.mapFixed(page(singles), pages: 4, protection(singles), tlb: machine.mmu)
        let wide = singles..<singles + 4
        for index in wide {
            let stored = space.userStore(machine, index, at: page(index))
            #expect(stored)
        }
        return wide
    }

    @Test func exactlyTheCapIsFineAndTheNextRegionIsENOMEMWithNothingChanged() throws {
        try withSpace { space, _, machine in
            let wide = try Self.fillToTheCap(&space, machine)
            let tlb = machine.mmu
            #expect(space.regionCount == RegionList.maxCount)
            let regions = space.regions
            let snapshot = PageTableSnapshot(memory: machine.memory, root: space.table.root)
            let resident = space.residentPages
            func unchanged(_ what: String) {
                #expect(space.regionCount == RegionList.maxCount, "\(what): count")
                let sameRegions = space.regions == regions
                let sameTables = PageTableSnapshot(memory: machine.memory, root: space.table.root) == snapshot
                #expect(sameRegions, "\(what): regions unchanged")
                #expect(sameTables, "\(what): page tables unchanged")
                #expect(space.residentPages == resident, "\(what): resident pages unchanged")
            }
            // Neither neighbour has it, so nothing merges.
            let other = VMProtection.readExecute
            let middle = Self.pages(wide.lowerBound + 1..<wide.lowerBound + 2)
            #expect(throws: VMError.tooManyRegions) { try space.protect(middle, to: other, tlb: tlb) }
            unchanged("mprotect splitting in three")
            #expect(throws: VMError.tooManyRegions) {
                try space.protect(Self.pages(wide.lowerBound..<wide.lowerBound + 1), to: other, tlb: tlb)
            }
            unchanged("mprotect splitting in two")
            #expect(throws: VMError.tooManyRegions) { try space.unmap(middle, tlb: tlb) }
            unchanged("munmap punching a hole")
            #expect(throws: VMError.tooManyRegions) { try space.mapFixed(Self.page(wide.upperBound + 10), pages: 1, .read, tlb: tlb) }
            unchanged("mmap MAP_FIXED elsewhere")
            #expect(throws: VMError.tooManyRegions) { try space.map(MapRequest(length: pageSize, protection: .read), tlb: tlb) }
            unchanged("mmap without a hint")
            #expect(throws: VMError.tooManyRegions) {
                try space.mapFixed(Self.page(wide.lowerBound + 1), pages: 1, other, tlb: tlb)
            }
            unchanged("mmap MAP_FIXED over the middle with another protection")
            // mremap: check_mremap_params and move_vma keep room below the cap.
            let old = VirtualAddress(Self.page(wide.lowerBound))
            #expect(throws: VMError.tooManyRegions) {
                try space.remap(RemapRequest(oldAddress: old, oldLength: pageSize, newLength: pageSize,
                                             options: [.mayMove, .fixed],
                                             newAddress: VirtualAddress(Self.page(wide.upperBound + 20))), tlb: tlb)
            }
            unchanged("mremap MREMAP_FIXED")
            #expect(throws: VMError.tooManyRegions) {
                try space.remap(RemapRequest(oldAddress: old, oldLength: pageSize, newLength: 64 * pageSize,
                                             options: .mayMove), tlb: tlb)
            }
            unchanged("mremap moving to grow")
            #expect(VMError.tooManyRegions.errno == VMError.LinuxErrno.noMemory)
            space.setInitialBreak(VirtualAddress(Self.page(wide.upperBound + 100)))
            let breakStart = space.breakEnd
            #expect(space.setBreak(breakStart + pageSize, tlb: tlb) == breakStart, "brk growing a new region")
            unchanged("brk")
        }
    }

    @Test func atTheCapWhatAddsNoRegionStillWorks() throws {
        try withSpace { space, _, machine in
            let wide = try Self.fillToTheCap(&space, machine)
            let tlb = machine.mmu
            let same = Self.protection(wide.lowerBound)
            // MAP_FIXED over the middle with the same protection: the removal
            // splits (one above the cap for a moment), the insert merges back.
            try space.mapFixed(Self.page(wide.lowerBound + 1), pages: 1, same, tlb: tlb)
            #expect(space.regionCount == RegionList.maxCount)
            #expect(space.region(containing: VirtualAddress(Self.page(wide.lowerBound)))?.range == Self.pages(wide))
            // Growing a region by a mergeable mmap, shrinking it by munmap at an end.
            try space.mapFixed(Self.page(wide.upperBound), pages: 2, same, tlb: tlb)
            #expect(space.regionCount == RegionList.maxCount)
            try space.unmap(Self.pages(wide.upperBound..<wide.upperBound + 2), tlb: tlb)
            try space.protect(Self.pages(wide), to: same, tlb: tlb)
            #expect(space.regionCount == RegionList.maxCount)
            // One region fewer makes room for exactly one split.
            try space.unmap(Self.pages(0..<1), tlb: tlb)
            #expect(space.regionCount == RegionList.maxCount - 1)
            let other = VMProtection.readExecute
            try space.protect(Self.pages(wide.upperBound - 1..<wide.upperBound), to: other, tlb: tlb)
            #expect(space.regionCount == RegionList.maxCount)
            #expect(throws: VMError.tooManyRegions) {
                try space.protect(Self.pages(wide.lowerBound..<wide.lowerBound + 1), to: other, tlb: tlb)
            }
            // One mprotect across every region merges them all (one splice).
            let all = Self.pages(1..<wide.upperBound)
            try space.protect(all, to: .read, tlb: tlb)
            #expect(space.regionCount == 1)
            #expect(space.regions.first?.range == all)
            try space.unmap(all, tlb: tlb)
            #expect(space.regionCount == 0 && space.residentPages == 0)
        }
    }
}
