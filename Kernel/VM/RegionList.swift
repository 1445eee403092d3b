// RegionList: a process's regions in address order, the single place that
// keeps their invariants (see UserAddressSpace.swift):
// 1. sorted by address, pairwise disjoint, page aligned, never empty;
// 2. no two neighbours that `canMerge` (merged as Linux's vma_merge does);
// 3. at most `maxCount` regions (Linux's vm.max_map_count) after every
//    operation of UserAddressSpace: callers ask `fits` before they change
//    anything, so a refused operation leaves the space as it was.
//
// Design: the regions live in a RegionTree (an AVL tree with subtree gap
// data, RegionTree.swift), so lookup, insert, remove and gap search cost
// O(log n) and an operation over k regions O(log n + k). Every change is
// one `Placement`: the regions a range touches (with the neighbours that
// may merge) are replaced by the merged result in one splice of the tree,
// never region by region. It knows nothing about page tables:
// UserAddressSpace keeps those in step.

public struct RegionList {
    /// The most regions a space may have: Linux's default vm.max_map_count
    /// (DEFAULT_MAX_MAP_COUNT, `sysctl_max_map_count`, 65530). It bounds
    /// the kernel heap a process can take through its regions. Linux
    /// checks `map_count > sysctl_max_map_count` before a new mapping
    /// (do_mmap) and `>=` before a split (split_vma), so mmap alone can
    /// reach 65531 there; here no operation may leave more than 65530.
    public static let maxCount = 65_530

    private var tree = RegionTree()

    public init() {}

    /// A list of `regions`, built in O(n). Contract: they satisfy 1-3.
    init(_ regions: [Region]) {
        tree = RegionTree(regions)
    }

    /// The index's node slots, live or vacant (tests: invariant 4 of
    /// RegionTree.swift keeps them O(count)).
    var indexSlots: Int { tree.slots }

    /// The regions in address order. O(n): for tests, fork, the checker
    /// and the monitor, not for the paths a syscall takes per region.
    public var regions: [Region] { tree.regions }

    /// The number of regions (Linux mm->map_count).
    public var count: Int { tree.count }

    /// The first region ending above `address` (containing it, or the next
    /// one), or nil. O(log n).
    public func first(endingAbove address: VirtualAddress) -> Region? {
        tree.first(endingAbove: address.raw)
    }

    /// The region containing `address`, or nil.
    public func region(containing address: VirtualAddress) -> Region? {
        tree.region(containing: address.raw)
    }

    /// The parts of the regions overlapping `range`, clipped to it, in order.
    public func pieces(in range: Range<VirtualAddress>) -> [Region] {
        var pieces: [Region] = []
        tree.forEach(endingAbove: range.lowerBound.raw, &pieces) { pieces, region in
            guard let piece = region.clipped(to: range) else { return false }
            pieces.append(piece)
            return true
        }
        return pieces
    }

    /// True if no region overlaps `range`.
    public func isFree(_ range: Range<VirtualAddress>) -> Bool {
        guard let next = tree.first(endingAbove: range.lowerBound.raw) else { return true }
        return next.start >= range.upperBound
    }

    /// True if every address of `range` lies in a region for which
    /// `condition` holds. True for an empty range.
    public func covers(_ range: Range<VirtualAddress>, where condition: (Region) -> Bool) -> Bool {
        // (covered up to, every region so far satisfies `condition`)
        var walk = (covered: range.lowerBound, holds: true)
        tree.forEach(endingAbove: range.lowerBound.raw, &walk) { walk, region in
            guard walk.covered < range.upperBound else { return false }
            guard region.start <= walk.covered, condition(region) else {
                walk.holds = false
                return false
            }
            walk.covered = region.end
            return true
        }
        return walk.holds && walk.covered >= range.upperBound
    }

    // MARK: The cap

    /// True if placing `pieces` over `range` (what `insert`, `remove` and
    /// `replace` do: `remove` places none, `insert` one over its own range,
    /// MAP_FIXED one over the range it replaces) leaves at most `maxCount`
    /// regions. Splits add regions, merges take them away; only the result
    /// counts (Linux refuses at the first split past the limit, so an
    /// mprotect that splits and then merges may fail there and pass here).
    /// Contract: as for `replace`, except that `range` need not be covered.
    /// O(1) while far from the cap: a placement removes the regions it
    /// overlaps and adds at most its pieces and the two straddling parts,
    /// so below `maxCount - pieces.count - 2` it always fits; only nearer
    /// the cap is the placement computed, O(log n + k).
    public func fits(placing pieces: [Region], over range: Range<VirtualAddress>) -> Bool {
        if count + pieces.count + 2 <= Self.maxCount { return true }
        return count(afterPlacing: pieces, over: range) <= Self.maxCount
    }

    /// The number of regions placing `pieces` over `range` would leave.
    func count(afterPlacing pieces: [Region], over range: Range<VirtualAddress>) -> Int {
        guard !range.isEmpty else { return count }
        let placement = self.placement(of: pieces, over: range, build: false)
        return count - placement.removed + placement.added
    }

    // MARK: Changes

    /// Removes `range` from the regions, splitting those that straddle its
    /// bounds. Holes are fine. Contract: `range` is page aligned; `fits`
    /// said yes, or a MAP_FIXED `insert` into the hole follows, which may
    /// bring the count from one above `maxCount` back under it (Linux lets
    /// map_count go just above its limit for that, vms_gather_munmap_vmas).
    public mutating func remove(_ range: Range<VirtualAddress>) {
        guard !range.isEmpty else { return }
        place(placement(of: [], over: range), limit: Self.maxCount + 1)
    }

    /// Replaces the regions covering `range` (which regions cover wholly)
    /// with `pieces` (the same range, in order), merging neighbours, in one
    /// splice of the tree (mprotect over k regions: O(log n + k)).
    /// Contract: `pieces` are disjoint, sorted and exactly cover `range`;
    /// `fits(placing: pieces, over: range)`.
    public mutating func replace(_ range: Range<VirtualAddress>, with pieces: [Region]) {
        guard !range.isEmpty else { return }
        place(placement(of: pieces, over: range), limit: Self.maxCount)
    }

    /// Adds `region`, merging it with neighbours it `canMerge` with.
    /// Contract: nothing overlaps `region.range` (`isFree`), and
    /// `fits(placing: [region], over: region.range)`.
    public mutating func insert(_ region: Region) {
        let placement = placement(of: [region], over: region.range)
        precondition(placement.overlapping == 0, "inserted region overlaps")
        place(placement, limit: Self.maxCount)
    }

    /// Gives the region containing `address` the lineage `lineage` (the
    /// first fault in it). Contract: such a region exists, has no lineage,
    /// and is private. Its neighbours cannot merge with it afterwards any
    /// more than before: one without a lineage would have merged already.
    public mutating func attach(_ lineage: AnonLineage, toRegionContaining address: VirtualAddress) {
        let found = tree.update(containing: address.raw) { region in
            precondition(region.lineage == nil, "attach: the region has a lineage")
            region.lineage = lineage
        }
        precondition(found, "attach: no region there")
    }

    /// The start of the highest free range of `length` bytes inside `bounds`
    /// (top-down first fit, like Linux's unmapped_area_topdown), or nil.
    /// O(log n). Contract: `length` is a non-zero multiple of the page size
    /// and `bounds` is page aligned.
    public func highestGap(length: UInt64, in bounds: Range<VirtualAddress>) -> VirtualAddress? {
        tree.highestGapEnd(length: length, in: bounds.lowerBound.raw..<bounds.upperBound.raw)
            .map { VirtualAddress($0 - length) }
    }

    /// True if the index's own invariants (RegionTree.swift) and 1-3 above
    /// hold. O(n); for tests and the checker's full check.
    func isValid() -> Bool {
        guard tree.isValid(), count <= Self.maxCount else { return false }
        let all = regions
        for index in all.indices {
            let region = all[index]
            guard !region.range.isEmpty, region.start.isPageAligned, region.end.isPageAligned else { return false }
            if index > 0 && (all[index - 1].end > region.start || all[index - 1].canMerge(with: region)) {
                return false
            }
        }
        return true
    }

    // MARK: Placements

    /// One change of the list: the regions starting in `starts` (`removed`
    /// of them, the first few named in `known`) give way to `regions`
    /// (empty when the placement was only counted).
    private struct Placement {
        var starts: Range<UInt64>
        var removed: Int
        var known: RegionStarts
        var regions: [Region]
        /// The number of regions the change adds (`regions.count` if built).
        var added: Int
        /// How many of the removed regions overlap the range.
        var overlapping: Int
    }

    /// The regions overlapping a range, as `placement` meets them in order.
    private struct Overlap {
        let range: Range<VirtualAddress>
        var starts: Range<UInt64>
        var removed = 0
        var known = RegionStarts()
        /// The parts of the regions straddling the range's bounds.
        var below: Region? = nil, above: Region? = nil

        init(range: Range<VirtualAddress>) {
            self.range = range
            starts = range.lowerBound.raw..<range.upperBound.raw
        }

        mutating func take(_ region: Region) {
            removed += 1
            known.append(region.start.raw)
            if region.start < range.lowerBound {
                below = region.with(range: region.start..<range.lowerBound)
                starts = region.start.raw..<range.upperBound.raw
            }
            if region.end > range.upperBound { above = region.with(range: range.upperBound..<region.end) }
        }
    }

    /// Merges a run of regions as they come (vma_merge on each neighbour
    /// pair), keeping them only when `keep`.
    private struct Merger {
        var keep: Bool
        var regions: [Region] = []
        var last: Region? = nil
        var count = 0

        mutating func append(_ region: Region) {
            if let previous = last, previous.canMerge(with: region) {
                last = previous.merged(with: region)
                return
            }
            if keep, let previous = last { regions.append(previous) }
            last = region
            count += 1
        }

        mutating func finish() {
            if keep, let previous = last { regions.append(previous) }
            last = nil
        }
    }

    /// What placing `pieces` over `range` does: the regions overlapping
    /// `range` go, the parts of those that straddle its bounds stay, and the
    /// neighbours touching it are taken in so that they can merge with the
    /// pieces. With `build` false only the counts are worked out (`fits`),
    /// which allocates nothing. O(log n + regions overlapping + pieces).
    /// Changes nothing.
    private func placement(of pieces: [Region], over range: Range<VirtualAddress>, build: Bool = true) -> Placement {
        let low = range.lowerBound.raw, high = range.upperBound.raw
        var overlap = Overlap(range: range)
        tree.forEach(endingAbove: low, &overlap) { overlap, region in
            guard region.start.raw < high else { return false }
            overlap.take(region)
            return true
        }
        var starts = overlap.starts
        var removed = overlap.removed
        var known = overlap.known
        var below = overlap.below, above = overlap.above
        // A neighbour that only touches the range is taken in if it can
        // merge with the piece beside it (a merge among the pieces can only
        // make a merge with the neighbour less possible, never more).
        let overlapping = removed
        // The neighbours are tested in place and copied only when they merge.
        if below == nil, low > 0, !pieces.isEmpty,
           let neighbour = tree.region(containing: low - 1, if: { $0.canMerge(with: pieces[0]) }) {
            // It ends at `low`: anything reaching further overlapped.
            below = neighbour
            starts = neighbour.start.raw..<starts.upperBound
            removed += 1
            known.append(neighbour.start.raw)
        }
        if above == nil, !pieces.isEmpty,
           let neighbour = tree.region(containing: high, if: { pieces[pieces.count - 1].canMerge(with: $0) }) {
            // It starts at `high`, for the same reason.
            above = neighbour
            starts = starts.lowerBound..<high + 1
            removed += 1
            known.append(neighbour.start.raw)
        }
        var merger = Merger(keep: build)
        if build { merger.regions.reserveCapacity(pieces.count + 2) }
        if let below { merger.append(below) }
        for piece in pieces { merger.append(piece) }
        if let above { merger.append(above) }
        merger.finish()
        return Placement(starts: starts, removed: removed, known: known, regions: merger.regions,
                         added: merger.count, overlapping: overlapping)
    }

    /// Applies `placement`; traps if it would leave more than `limit` regions.
    private mutating func place(_ placement: Placement, limit: Int) {
        precondition(count - placement.removed + placement.added <= limit, "region cap exceeded")
        tree.replace(startingIn: placement.starts, known: placement.known, with: placement.regions)
    }
}
