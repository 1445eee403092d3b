// The benchmark's baseline: the sorted array that RegionList was before
// the region index (Kernel/VM/RegionList.swift at commit 5c7c366), cut to
// the operations the benchmark times. Binary search for lookups, but each
// insert or remove moves every region above it, and the gap search walks
// the holes one by one.

import KernelCore

struct SortedArrayRegionList {
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

    /// True if no region overlaps `range`.
    func isFree(_ range: Range<VirtualAddress>) -> Bool {
        let index = firstIndex(endingAbove: range.lowerBound)
        return index == regions.count || regions[index].start >= range.upperBound
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
