// RegionList: a process's regions in address order, the single place that
// keeps their invariants (see UserAddressSpace.swift):
//   sorted by address, pairwise disjoint, page aligned, never empty, and
//   no two neighbours that `canMerge` (merged as Linux's vma_merge does).
//
// Design: a sorted array with binary search. Processes have tens of
// regions, so an array beats a tree on code size and constant factors; the
// interface (find, carve out, insert, find a gap) would let a tree replace
// it. It knows nothing about page tables: UserAddressSpace keeps those in
// step.

struct RegionList {
    private(set) var regions: [Region] = []

    /// The index of the first region ending above `address` (`regions.count`
    /// if none does): the region containing `address`, or the next one.
    func firstIndex(endingAbove address: VirtualAddress) -> Int {
        var low = 0, high = regions.count
        while low < high {
            let middle = (low + high) / 2
            if regions[middle].end > address { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The region containing `address`, or nil.
    func region(containing address: VirtualAddress) -> Region? {
        let index = firstIndex(endingAbove: address)
        guard index < regions.count, regions[index].start <= address else { return nil }
        return regions[index]
    }

    /// The parts of the regions overlapping `range`, clipped to it, in order.
    func pieces(in range: Range<VirtualAddress>) -> [Region] {
        var pieces: [Region] = []
        var index = firstIndex(endingAbove: range.lowerBound)
        while index < regions.count, let piece = regions[index].clipped(to: range) {
            pieces.append(piece)
            index += 1
        }
        return pieces
    }

    /// True if no region overlaps `range`.
    func isFree(_ range: Range<VirtualAddress>) -> Bool {
        let index = firstIndex(endingAbove: range.lowerBound)
        return index == regions.count || regions[index].start >= range.upperBound
    }

    /// True if every address of `range` lies in a region for which
    /// `condition` holds. True for an empty range.
    func covers(_ range: Range<VirtualAddress>, where condition: (Region) -> Bool) -> Bool {
        var covered = range.lowerBound
        var index = firstIndex(endingAbove: covered)
        while covered < range.upperBound {
            guard index < regions.count, regions[index].start <= covered, condition(regions[index]) else {
                return false
            }
            covered = regions[index].end
            index += 1
        }
        return true
    }

    /// Removes `range` from the regions, splitting those that straddle its
    /// bounds. Holes are fine. Contract: `range` is page aligned.
    mutating func remove(_ range: Range<VirtualAddress>) {
        let first = firstIndex(endingAbove: range.lowerBound)
        var last = first
        while last < regions.count && regions[last].start < range.upperBound { last += 1 }
        guard first < last else { return }
        var remainders: [Region] = []
        if regions[first].start < range.lowerBound {
            remainders.append(regions[first].with(range: regions[first].start..<range.lowerBound))
        }
        if regions[last - 1].end > range.upperBound {
            remainders.append(regions[last - 1].with(range: range.upperBound..<regions[last - 1].end))
        }
        regions.replaceSubrange(first..<last, with: remainders)
    }

    /// Replaces the regions covering `range` (which regions cover wholly)
    /// with `pieces` (the same range, in order), merging neighbours,
    /// in one pass over the array (mprotect).
    /// Contract: `pieces` are disjoint, sorted and exactly cover `range`.
    mutating func replace(_ range: Range<VirtualAddress>, with pieces: [Region]) {
        remove(range)
        let index = firstIndex(endingAbove: range.lowerBound)
        var merged: [Region] = []
        merged.reserveCapacity(pieces.count + 2)
        var first = index
        if index > 0 { first -= 1; merged.append(regions[index - 1]) }
        for piece in pieces {
            if let last = merged.last, last.canMerge(with: piece) {
                merged[merged.count - 1] = last.merged(with: piece)
            } else {
                merged.append(piece)
            }
        }
        var end = index
        if index < regions.count {
            end += 1
            let next = regions[index]
            if let last = merged.last, last.canMerge(with: next) {
                merged[merged.count - 1] = last.merged(with: next)
            } else {
                merged.append(next)
            }
        }
        regions.replaceSubrange(first..<end, with: merged)
    }

    /// Adds `region`, merging it with neighbours it `canMerge` with.
    /// Contract: nothing overlaps `region.range` (`isFree`).
    mutating func insert(_ region: Region) {
        let index = firstIndex(endingAbove: region.start)
        precondition(index == regions.count || regions[index].start >= region.end, "inserted region overlaps")
        var merged = region
        var replaced = index..<index
        if index > 0 && regions[index - 1].canMerge(with: merged) {
            merged = regions[index - 1].merged(with: merged)
            replaced = index - 1..<replaced.upperBound
        }
        if index < regions.count && merged.canMerge(with: regions[index]) {
            merged = merged.merged(with: regions[index])
            replaced = replaced.lowerBound..<index + 1
        }
        regions.replaceSubrange(replaced, with: CollectionOfOne(merged))
    }

    /// Gives the region containing `address` the lineage `lineage` (the
    /// first fault in it). Contract: such a region exists, has no lineage,
    /// and is private. Its neighbours cannot merge with it afterwards any
    /// more than before: one without a lineage would have merged already.
    mutating func attach(_ lineage: AnonLineage, toRegionContaining address: VirtualAddress) {
        let index = firstIndex(endingAbove: address)
        precondition(index < regions.count && regions[index].start <= address && regions[index].lineage == nil,
                     "attach: no lineage-free region there")
        regions[index].lineage = lineage
    }

    /// The start of the highest free range of `length` bytes inside `bounds`
    /// (top-down first fit, like Linux's unmapped_area_topdown), or nil.
    /// Contract: `length` is a non-zero multiple of the page size and
    /// `bounds` is page aligned.
    func highestGap(length: UInt64, in bounds: Range<VirtualAddress>) -> VirtualAddress? {
        var index = firstIndex(endingAbove: bounds.upperBound)
        var gapEnd = bounds.upperBound
        if index < regions.count { gapEnd = Swift.min(gapEnd, regions[index].start) }
        while gapEnd > bounds.lowerBound {
            // No region overlaps [end of regions[index - 1], gapEnd): that is
            // the gap, clipped to the lower bound.
            let gapStart = index > 0 ? Swift.max(regions[index - 1].end, bounds.lowerBound) : bounds.lowerBound
            if gapStart < gapEnd && gapEnd.raw - gapStart.raw >= length {
                return VirtualAddress(gapEnd.raw - length)
            }
            guard index > 0 else { return nil }
            index -= 1
            gapEnd = regions[index].start
        }
        return nil
    }
}
