// RegionTree: the index of a space's regions. An AVL tree keyed by start
// address whose every node also knows its subtree's span and widest gap,
// the way Linux's maple tree keeps gap information for
// unmapped_area_topdown and Zircon's VmAddressRegion keeps a WAVL tree
// with subtree gap data. RegionList.swift builds the VM's rules (merging,
// the region cap) on top; this file knows only order and gaps.
//
// Invariants (`isValid` checks all of them; the host tests call it after
// every step):
// 1. In-order (left subtree, node, right subtree) the regions are sorted by
//    start and pairwise disjoint (no two overlap; they may touch).
// 2. AVL balance: the heights of a node's two subtrees differ by at most 1;
//    `height` is 1 + the taller child's (an empty tree has height 0), so a
//    tree of n regions is at most 1.44 log2(n + 2) deep.
// 3. A node's `start` and `end` are its region's bounds. Subtree data:
//    `lowest` is the start of the subtree's first region, `highest` the end
//    of its last, and `widestGap` the largest distance between the end of
//    one of its regions and the start of the next (0 for a single region).
//    These are functions of the subtree alone, so a rotation or a join
//    recomputes them from the two children in O(1); nothing outside the
//    subtree (no neighbour's end) is read.
// 4. `count` is the number of regions. Nodes live in one array, their
//    regions at the same index in a parallel one, and link by index; a
//    vacant slot holds a placeholder region (no object references) and is
//    chained through `left` from `vacant`. The arrays are compacted when
//    fewer than a quarter of their slots are in use, so their memory is
//    O(count) (amortised O(1) per removal).
//
// Cost (n regions): lookup, insert, remove and gap search O(log n);
// visiting k regions from an address O(log n + k); `replace` of k regions
// by k' O(log n + k + k'): it splits the tree at both ends of the range,
// frees the middle, builds the new regions into a balanced subtree and
// joins the three (Blelloch, Ferizovic & Sun, "Just Join for Parallel
// Ordered Sets", 2016), never rebalancing region by region. Only when
// k + k' is at most `smallChange` (one mmap, munmap, merge or split) does
// it take one AVL descent per region instead, which costs less.
//
// Value semantics: the arrays are copy-on-write, so a copy (fork's) is
// O(1) until one side changes, then one O(n) copy. Constant factors: a
// change makes the node array unique once and runs the tree algorithms
// (`Links`) through one buffer pointer, so no node write pays a uniqueness
// or bounds check (they had cost more than the descent itself); `forEach`
// loops over a stack of pending nodes on the machine stack instead of
// recursing. Recursion depth elsewhere is the height (under 30 at the
// region cap). Nothing here allocates except the two arrays and the arrays
// callers ask for.

struct RegionTree {
    /// One region's place in the tree and its subtree's data (invariants 2
    /// and 3). The region itself lives at the same index in `payload`, so a
    /// descent reads 56 bytes per node (one cache line) and never copies
    /// (retains) a region.
    struct Node {
        /// The region's bounds.
        var start: UInt64
        var end: UInt64
        /// The start of the subtree's first region.
        var lowest: UInt64
        /// The end of the subtree's last region.
        var highest: UInt64
        /// The widest gap between consecutive regions of the subtree.
        var widestGap: UInt64
        var left: Int32
        var right: Int32
        var height: Int32
    }

    /// No node.
    private static let none: Int32 = -1
    /// The tallest tree `forEach` walks: an AVL tree of n nodes is under
    /// 1.44 log2(n + 2) tall (invariant 2), so under 46 for as many nodes
    /// as an Int32 index can name.
    private static let maxHeight: Int32 = 48
    /// Below this many slots the array is never compacted.
    private static let compactionFloor = 64
    /// Up to this many regions removed plus added, `replace` changes them
    /// one descent each rather than by splitting and joining.
    static let smallChange = 4

    private var nodes: [Node] = []
    /// The region of each node, at the node's index.
    private var payload: [Region] = []
    private var root: Int32 = none
    /// The first vacant slot; vacant slots chain through `left`.
    private var vacant: Int32 = none
    /// The number of regions (invariant 4).
    private(set) var count = 0
    /// The node slots, live or vacant (invariant 4).
    var slots: Int { nodes.count }

    init() {}

    /// A tree of `regions`. Contract: sorted and disjoint.
    init(_ regions: [Region]) {
        nodes.reserveCapacity(regions.count)
        payload.reserveCapacity(regions.count)
        root = build(regions)
        count = regions.count
    }

    /// Every region, in address order. O(n).
    var regions: [Region] {
        var all: [Region] = []
        all.reserveCapacity(count)
        forEach(endingAbove: 0, &all) { all, region in
            all.append(region)
            return true
        }
        return all
    }

    // MARK: Queries

    /// The region containing `address`, or nil.
    func region(containing address: UInt64) -> Region? {
        guard let node = node(containing: address) else { return nil }
        return payload[node]
    }

    /// The index of the node whose region contains `address`, or nil.
    private func node(containing address: UInt64) -> Int? {
        var node = root
        while node != Self.none {
            if address < nodes[Int(node)].start {
                node = nodes[Int(node)].left
            } else if address >= nodes[Int(node)].end {
                node = nodes[Int(node)].right
            } else {
                return Int(node)
            }
        }
        return nil
    }

    /// The region containing `address` if `test` holds for it, or nil. The
    /// region is lent to `test` and copied (retained) only when it passes:
    /// for the merge tests of a placement, which usually fail.
    func region(containing address: UInt64, if test: (Region) -> Bool) -> Region? {
        guard let i = node(containing: address) else { return nil }
        // SAFETY: `i` is a live node's index, inside `payload` (invariant 4).
        let passes = payload.withUnsafeBufferPointer { payload in test(payload[i]) }
        return passes ? payload[i] : nil
    }

    /// The first region ending above `address` (containing it, or the next
    /// one), or nil.
    func first(endingAbove address: UInt64) -> Region? {
        var node = root
        var found = Self.none
        while node != Self.none {
            if nodes[Int(node)].end > address {
                found = node
                node = nodes[Int(node)].left
            } else {
                node = nodes[Int(node)].right
            }
        }
        return found == Self.none ? nil : payload[Int(found)]
    }

    /// The last region starting below `address`, or nil.
    func last(startingBelow address: UInt64) -> Region? {
        var node = root
        var found = Self.none
        while node != Self.none {
            if nodes[Int(node)].start < address {
                found = node
                node = nodes[Int(node)].right
            } else {
                node = nodes[Int(node)].left
            }
        }
        return found == Self.none ? nil : payload[Int(found)]
    }

    /// Calls `body` with `state` and each region ending above `address`, in
    /// address order, until it returns false. O(log n + regions visited).
    /// The state is passed in and out rather than captured, so that the
    /// closure needs no context and nothing is boxed. A loop over a stack of
    /// the nodes still to visit rather than a recursion: a call per level
    /// (and per region) cost more than the descent itself.
    func forEach<State>(endingAbove address: UInt64, _ state: inout State,
                        _ body: (inout State, Region) -> Bool) {
        guard root != Self.none, nodes[Int(root)].highest > address else { return }
        // The stack holds at most one node per level of the current path.
        precondition(nodes[Int(root)].height <= Self.maxHeight, "RegionTree: too tall")
        let top = root
        nodes.withUnsafeBufferPointer { nodes in
            payload.withUnsafeBufferPointer { payload in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: Int(Self.maxHeight)) { pending in
                    // SAFETY: every index followed is a live node's
                    // (invariant 4), so inside both buffers; `pending` is
                    // written below `depth` before it is read there, and
                    // `depth` stays within the height checked above.
                    // `pending[0..<depth]` are the nodes whose regions come
                    // next, the nearest on top: the path's nodes where it
                    // turned left.
                    var depth = 0
                    var node = top
                    // Down to the first region ending above `address`.
                    // Regions are sorted and disjoint, so ends grow in order
                    // too: a node ending at or below it has only such
                    // regions on its left.
                    while node != Self.none {
                        if nodes[Int(node)].end > address {
                            pending[depth] = node
                            depth += 1
                            node = nodes[Int(node)].left
                        } else {
                            node = nodes[Int(node)].right
                        }
                    }
                    while depth > 0 {
                        depth -= 1
                        let next = pending[depth]
                        guard body(&state, payload[Int(next)]) else { return }
                        // Its successors: the first regions of its right
                        // subtree, down the left spine.
                        node = nodes[Int(next)].right
                        while node != Self.none {
                            pending[depth] = node
                            depth += 1
                            node = nodes[Int(node)].left
                        }
                    }
                }
            }
        }
    }

    /// The end of the highest free range of at least `length` bytes inside
    /// `bounds` (top-down first fit, Linux unmapped_area_topdown), clipped
    /// to `bounds.upperBound`; nil if there is none. O(log n): a subtree
    /// wholly inside `bounds` whose widest gap fits always holds the
    /// answer, one whose gap does not fit is skipped without descending, and
    /// only the two paths to the bounds cross them. Contract: `length > 0`.
    func highestGapEnd(length: UInt64, in bounds: Range<UInt64>) -> UInt64? {
        guard root != Self.none else { return Self.fit(bounds, length) }
        let top = nodes[Int(root)]
        if let end = Self.fit(Self.clip(top.highest, bounds.upperBound, bounds), length) { return end }
        let tree = root
        if top.widestGap >= length,
           let end = nodes.withUnsafeBufferPointer({ Self.highestGap(in: tree, of: $0, length: length, bounds) }) {
            return end
        }
        return Self.fit(Self.clip(bounds.lowerBound, top.lowest, bounds), length)
    }

    /// The end of the highest gap between two regions of `node`'s subtree
    /// that, clipped to `bounds`, holds `length` bytes. Static over the
    /// node buffer, so that no level pays a bounds check; a child whose
    /// widest gap is too narrow is skipped before the call rather than in it.
    private static func highestGap(in node: Int32, of nodes: UnsafeBufferPointer<Node>, length: UInt64,
                                   _ bounds: Range<UInt64>) -> UInt64? {
        // SAFETY: `node` and its children are live nodes' indices
        // (invariant 4), inside `nodes`.
        let i = Int(node)
        let spanEnd = Swift.min(nodes[i].highest, bounds.upperBound)
        let spanStart = Swift.max(nodes[i].lowest, bounds.lowerBound)
        guard spanStart < spanEnd, spanEnd - spanStart >= length else { return nil }
        let left = nodes[i].left, right = nodes[i].right
        let start = nodes[i].start, end = nodes[i].end
        // Highest first: inside the right subtree, between this region and
        // the right subtree, between the left subtree and this region,
        // inside the left subtree.
        if right != Self.none {
            if nodes[Int(right)].widestGap >= length,
               let found = highestGap(in: right, of: nodes, length: length, bounds) {
                return found
            }
            if let found = Self.fit(Self.clip(end, nodes[Int(right)].lowest, bounds), length) { return found }
        }
        guard left != Self.none else { return nil }
        if let found = Self.fit(Self.clip(nodes[Int(left)].highest, start, bounds), length) { return found }
        guard nodes[Int(left)].widestGap >= length else { return nil }
        return highestGap(in: left, of: nodes, length: length, bounds)
    }

    /// [start, end) clipped to `bounds` (possibly empty).
    @inline(__always)
    private static func clip(_ start: UInt64, _ end: UInt64, _ bounds: Range<UInt64>) -> Range<UInt64> {
        let low = Swift.max(start, bounds.lowerBound), high = Swift.min(end, bounds.upperBound)
        return low < high ? low..<high : low..<low
    }

    /// The end of `range` if it holds `length` bytes.
    @inline(__always)
    private static func fit(_ range: Range<UInt64>, _ length: UInt64) -> UInt64? {
        range.upperBound - range.lowerBound >= length ? range.upperBound : nil
    }

    // MARK: Changes

    /// Removes every region whose start lies in `starts` and adds
    /// `regions`, returning how many were removed. `known` names the starts
    /// of the first few removed (all of them unless it overflowed), so a
    /// small change needs no search for them. O(log n + removed + added).
    /// Contract: `regions` are sorted and disjoint, start inside `starts`,
    /// and overlap none of the regions that stay; `known` is right.
    @discardableResult
    mutating func replace(startingIn starts: Range<UInt64>, known: RegionStarts, with regions: [Region]) -> Int {
        if known.overflowed || known.count + regions.count > Self.smallChange {
            return splice(startingIn: starts, with: regions)
        }
        change(removing: known, adding: regions)
        return known.count
    }

    /// `replace` for a few regions: each old one whose start a new one
    /// keeps is changed in place, the others are removed, then the rest of
    /// the new ones inserted, each a descent of O(log n) (cheaper than two
    /// splits and two joins for the usual mmap, munmap or merge).
    private mutating func change(removing old: RegionStarts, adding regions: [Region]) {
        var kept = RegionStarts()
        for index in 0..<old.count {
            var keeps = false
            for region in regions where region.start.raw == old[index] { keeps = true }
            if keeps {
                kept.append(old[index])
            } else {
                let tree = root, start = old[index]
                let (rest, removed) = withLinks { links in links.remove(start, from: tree) }
                root = rest
                vacate(removed)
            }
        }
        for region in regions {
            let tree = root
            if kept.contains(region.start.raw) {
                let start = region.start.raw, end = region.end.raw
                let node = withLinks { links in links.changeEnd(ofRegionStarting: start, to: end, in: tree) }
                payload[Int(node)] = region
            } else {
                let node = allocate(region)
                root = withLinks { links in links.insert(node, into: tree) }
            }
        }
        count += regions.count - old.count
        if nodes.count > Self.compactionFloor && count < nodes.count / 4 { compact() }
    }

    /// `replace` in general: two splits, the middle freed, the new regions
    /// built balanced, two joins.
    private mutating func splice(startingIn starts: Range<UInt64>, with regions: [Region]) -> Int {
        let tree = root
        let (below, middle, above) = withLinks { links in
            let (below, rest) = links.split(tree, at: starts.lowerBound)
            let (middle, above) = links.split(rest, at: starts.upperBound)
            return (below, middle, above)
        }
        // Freed first, so that the new regions take the freed slots.
        let removed = release(middle)
        let chain = allocateChain(regions)
        let added = regions.count
        root = withLinks { links in
            if added == 1 { return links.join(below, chain, above) }
            var next = chain
            return links.join(links.join(below, links.build(added, from: &next)), above)
        }
        count += regions.count - removed
        if nodes.count > Self.compactionFloor && count < nodes.count / 4 { compact() }
        return removed
    }

    /// Changes the region containing `address` in place with `change`,
    /// which must keep its range. Returns false if no region contains it.
    mutating func update(containing address: UInt64, _ change: (inout Region) -> Void) -> Bool {
        var node = root
        while node != Self.none {
            let i = Int(node)
            if address < nodes[i].start {
                node = nodes[i].left
            } else if address >= nodes[i].end {
                node = nodes[i].right
            } else {
                let range = payload[i].range
                change(&payload[i])
                precondition(payload[i].range == range, "RegionTree.update changed a range")
                return true
            }
        }
        return false
    }

    // MARK: Slots

    /// A region that refers to no object, for vacant slots.
    private static var placeholder: Region {
        Region(range: VirtualAddress(0)..<VirtualAddress(pageSize), protection: .noAccess, kind: .anonymous)
    }

    /// A detached node holding `region`.
    private mutating func allocate(_ region: Region) -> Int32 {
        let node = Node(start: region.start.raw, end: region.end.raw, lowest: region.start.raw,
                        highest: region.end.raw, widestGap: 0, left: Self.none, right: Self.none, height: 1)
        if vacant != Self.none {
            let slot = vacant
            vacant = nodes[Int(slot)].left
            nodes[Int(slot)] = node
            payload[Int(slot)] = region
            return slot
        }
        precondition(nodes.count < Int(Int32.max), "RegionTree: too many nodes")
        nodes.append(node)
        payload.append(region)
        return Int32(nodes.count - 1)
    }

    /// Allocates a node for each of `regions`, in order, chained through
    /// `right` for `Links.build`; returns the first (`none` if there are
    /// none). The nodes are detached once `build` has consumed the chain.
    private mutating func allocateChain(_ regions: [Region]) -> Int32 {
        var first = Self.none, last = Self.none
        for region in regions {
            let node = allocate(region)
            if last == Self.none { first = node } else { nodes[Int(last)].right = node }
            last = node
        }
        return first
    }

    /// Vacates every node of `node`'s subtree; returns how many.
    private mutating func release(_ node: Int32) -> Int {
        guard node != Self.none else { return 0 }
        let freed = release(nodes[Int(node)].left) + release(nodes[Int(node)].right) + 1
        vacate(node)
        return freed
    }

    /// Puts `node` on the vacant chain, dropping its region's references.
    private mutating func vacate(_ node: Int32) {
        payload[Int(node)] = Self.placeholder
        nodes[Int(node)].right = Self.none
        nodes[Int(node)].left = vacant
        vacant = node
    }

    /// Rebuilds the array with exactly the live nodes, balanced.
    private mutating func compact() {
        let all = regions
        nodes = []
        nodes.reserveCapacity(all.count)
        payload = []
        payload.reserveCapacity(all.count)
        vacant = Self.none
        root = build(all)
    }

    /// A balanced tree of `regions` in fresh nodes. Contract: sorted and
    /// disjoint.
    private mutating func build(_ regions: [Region]) -> Int32 {
        var next = allocateChain(regions)
        let added = regions.count
        return withLinks { links in links.build(added, from: &next) }
    }

    /// Runs `body` over the node array through one pointer (`Links`): the
    /// array is made unique once here, not at every node written, and its
    /// subscripts are not bounds-checked. `body` must not reach `self`
    /// (the array is borrowed for it), so callers pass values in and take
    /// results out.
    @inline(__always)
    private mutating func withLinks<Result>(_ body: (Links) -> Result) -> Result {
        // SAFETY: the buffer lives for the closure only and `Links` is not
        // kept past it; nothing appends to or replaces `nodes` meanwhile
        // (the closure cannot reach `self`).
        nodes.withUnsafeMutableBufferPointer { buffer in body(Links(nodes: buffer)) }
    }

    // MARK: Links: the tree algorithms over the node array

    /// The node array of one change, through one pointer (see `withLinks`).
    /// Every algorithm on links lives here: it reads and writes nodes
    /// only, never a region or the vacant chain, so it needs no access to
    /// the tree itself. Every index it follows is a node's (a live node's
    /// link, or a detached node its caller allocated), so below
    /// `nodes.count` (invariant 4); UnsafeMutableBufferPointer checks that
    /// in debug builds (the host tests) and not in the kernel's -O build.
    private struct Links {
        let nodes: UnsafeMutableBufferPointer<Node>

        @inline(__always)
        func height(_ node: Int32) -> Int32 {
            // SAFETY: `node` is a node's index (see the type's comment).
            node == RegionTree.none ? 0 : nodes[Int(node)].height
        }

        /// Makes `left` and `right` the children of `node` and recomputes
        /// its height and subtree data (invariant 3). Returns `node`.
        @inline(__always)
        func link(_ left: Int32, _ node: Int32, _ right: Int32) -> Int32 {
            // SAFETY: indices of nodes (see the type's comment).
            let i = Int(node)
            nodes[i].left = left
            nodes[i].right = right
            refresh(node)
            return node
        }

        /// Recomputes `node`'s height and subtree data from its children.
        @inline(__always)
        func refresh(_ node: Int32) {
            // SAFETY: `node` and its children are nodes (see the type's
            // comment).
            let i = Int(node)
            let left = nodes[i].left, right = nodes[i].right
            var lowest = nodes[i].start, highest = nodes[i].end
            var gap: UInt64 = 0
            var height: Int32 = 0
            if left != RegionTree.none {
                let l = Int(left)
                lowest = nodes[l].lowest
                gap = Swift.max(nodes[l].widestGap, nodes[i].start - nodes[l].highest)
                height = nodes[l].height
            }
            if right != RegionTree.none {
                let r = Int(right)
                highest = nodes[r].highest
                gap = Swift.max(gap, Swift.max(nodes[r].widestGap, nodes[r].lowest - nodes[i].end))
                height = Swift.max(height, nodes[r].height)
            }
            nodes[i].lowest = lowest
            nodes[i].highest = highest
            nodes[i].widestGap = gap
            nodes[i].height = 1 + height
        }

        func rotateLeft(_ node: Int32) -> Int32 {
            // SAFETY: `node` has a right child (the caller's balance
            // check); both are nodes (see the type's comment).
            let right = nodes[Int(node)].right
            nodes[Int(node)].right = nodes[Int(right)].left
            refresh(node)
            nodes[Int(right)].left = node
            refresh(right)
            return right
        }

        func rotateRight(_ node: Int32) -> Int32 {
            // SAFETY: `node` has a left child (the caller's balance check);
            // both are nodes (see the type's comment).
            let left = nodes[Int(node)].left
            nodes[Int(node)].left = nodes[Int(left)].right
            refresh(node)
            nodes[Int(left)].right = node
            refresh(left)
            return left
        }

        // Single changes (one descent each, O(log n)).

        /// Restores AVL balance at `node` after one of its subtrees changed
        /// height by one (insert, remove), and its subtree data. Inlined
        /// into the descents: it runs at every level of each one.
        @inline(__always)
        func balance(_ node: Int32) -> Int32 {
            // SAFETY: indices of nodes; a subtree two taller than its
            // sibling has children (see the type's comment).
            let i = Int(node)
            let left = nodes[i].left, right = nodes[i].right
            let leftHeight = height(left), rightHeight = height(right)
            if leftHeight > rightHeight + 1 {
                if height(nodes[Int(left)].left) < height(nodes[Int(left)].right) { nodes[i].left = rotateLeft(left) }
                return rotateRight(node)
            }
            if rightHeight > leftHeight + 1 {
                if height(nodes[Int(right)].right) < height(nodes[Int(right)].left) {
                    nodes[i].right = rotateRight(right)
                }
                return rotateLeft(node)
            }
            refresh(node)
            return node
        }

        /// `tree` with the detached node `node` added. Contract: its region
        /// overlaps none in `tree`.
        func insert(_ node: Int32, into tree: Int32) -> Int32 {
            guard tree != RegionTree.none else { return node }
            // SAFETY: indices of nodes (see the type's comment).
            let i = Int(tree)
            if nodes[Int(node)].start < nodes[i].start {
                nodes[i].left = insert(node, into: nodes[i].left)
            } else {
                nodes[i].right = insert(node, into: nodes[i].right)
            }
            return balance(tree)
        }

        /// `tree` without the node of the region starting at `start`, and
        /// that node, detached (for the caller to vacate). Contract: there
        /// is one.
        func remove(_ start: UInt64, from tree: Int32) -> (tree: Int32, removed: Int32) {
            precondition(tree != RegionTree.none, "RegionTree.remove: no such region")
            // SAFETY: indices of nodes (see the type's comment).
            let i = Int(tree)
            let here = nodes[i].start
            if start < here {
                let (rest, removed) = remove(start, from: nodes[i].left)
                nodes[i].left = rest
                return (balance(tree), removed)
            }
            if start > here {
                let (rest, removed) = remove(start, from: nodes[i].right)
                nodes[i].right = rest
                return (balance(tree), removed)
            }
            let left = nodes[i].left, right = nodes[i].right
            guard left != RegionTree.none else { return (right, tree) }
            guard right != RegionTree.none else { return (left, tree) }
            let (rest, first) = removeFirst(right)
            nodes[Int(first)].left = left
            nodes[Int(first)].right = rest
            return (balance(first), tree)
        }

        /// `tree` without its first node, and that node, detached.
        func removeFirst(_ tree: Int32) -> (Int32, Int32) {
            // SAFETY: indices of nodes (see the type's comment).
            let i = Int(tree)
            let left = nodes[i].left
            guard left != RegionTree.none else { return (nodes[i].right, tree) }
            let (rest, first) = removeFirst(left)
            nodes[i].left = rest
            return (balance(tree), first)
        }

        /// Sets the end of the region starting at `start` to `end` and
        /// refreshes the subtree data on the path; returns its node (the
        /// caller stores the new region there). Contract: there is one, and
        /// the new range overlaps no other region.
        func changeEnd(ofRegionStarting start: UInt64, to end: UInt64, in tree: Int32) -> Int32 {
            precondition(tree != RegionTree.none, "RegionTree.changeEnd: no such region")
            // SAFETY: indices of nodes (see the type's comment).
            let i = Int(tree)
            let here = nodes[i].start
            let node: Int32
            if start < here {
                node = changeEnd(ofRegionStarting: start, to: end, in: nodes[i].left)
            } else if start > here {
                node = changeEnd(ofRegionStarting: start, to: end, in: nodes[i].right)
            } else {
                nodes[i].end = end
                node = tree
            }
            refresh(tree)
            return node
        }

        // Join, split and build (Blelloch, Ferizovic & Sun).

        /// A balanced tree of the `count` nodes chained through `right`
        /// from `next` (`allocateChain`), in chain order; `next` is left at
        /// the node after them. Its heights differ by at most one at every
        /// node, so it is an AVL tree. O(count).
        func build(_ count: Int, from next: inout Int32) -> Int32 {
            guard count > 0 else { return RegionTree.none }
            let leftCount = count / 2
            let left = build(leftCount, from: &next)
            // SAFETY: the chain holds `count` nodes (the caller's contract).
            let node = next
            next = nodes[Int(node)].right
            let right = build(count - leftCount - 1, from: &next)
            return link(left, node, right)
        }

        /// The tree of `left`, then the detached node `middle`, then
        /// `right`. Contract: everything in `left` lies below `middle`'s
        /// region, which lies below everything in `right`.
        /// O(|height(left) - height(right)|).
        func join(_ left: Int32, _ middle: Int32, _ right: Int32) -> Int32 {
            let leftHeight = height(left), rightHeight = height(right)
            if leftHeight > rightHeight + 1 { return joinRight(left, middle, right) }
            if rightHeight > leftHeight + 1 { return joinLeft(left, middle, right) }
            return link(left, middle, right)
        }

        /// `join` when `left` is the taller by more than one: descend its
        /// right spine to a subtree as tall as `right` (or one more), hang
        /// the three there, and rebalance on the way up.
        func joinRight(_ left: Int32, _ middle: Int32, _ right: Int32) -> Int32 {
            // SAFETY: indices of nodes (see the type's comment); `left` is
            // taller than `right`, so not empty.
            let l = Int(left)
            let inner = nodes[l].right
            if height(inner) <= height(right) + 1 {
                let joined = link(inner, middle, right)
                if height(joined) <= height(nodes[l].left) + 1 {
                    nodes[l].right = joined
                    refresh(left)
                    return left
                }
                nodes[l].right = rotateRight(joined)
                refresh(left)
                return rotateLeft(left)
            }
            let joined = joinRight(inner, middle, right)
            nodes[l].right = joined
            refresh(left)
            return height(joined) <= height(nodes[l].left) + 1 ? left : rotateLeft(left)
        }

        /// The mirror of `joinRight`.
        func joinLeft(_ left: Int32, _ middle: Int32, _ right: Int32) -> Int32 {
            // SAFETY: as in `joinRight`, mirrored.
            let r = Int(right)
            let inner = nodes[r].left
            if height(inner) <= height(left) + 1 {
                let joined = link(left, middle, inner)
                if height(joined) <= height(nodes[r].right) + 1 {
                    nodes[r].left = joined
                    refresh(right)
                    return right
                }
                nodes[r].left = rotateLeft(joined)
                refresh(right)
                return rotateRight(right)
            }
            let joined = joinLeft(left, middle, inner)
            nodes[r].left = joined
            refresh(right)
            return height(joined) <= height(nodes[r].right) + 1 ? right : rotateRight(right)
        }

        /// The tree of `left` then `right` (no middle node).
        func join(_ left: Int32, _ right: Int32) -> Int32 {
            guard left != RegionTree.none else { return right }
            guard right != RegionTree.none else { return left }
            let (rest, last) = splitLast(left)
            return join(rest, last, right)
        }

        /// `node`'s subtree without its last node, and that node, detached.
        func splitLast(_ node: Int32) -> (Int32, Int32) {
            // SAFETY: indices of nodes (see the type's comment).
            let right = nodes[Int(node)].right
            guard right != RegionTree.none else { return (nodes[Int(node)].left, node) }
            let (rest, last) = splitLast(right)
            return (join(nodes[Int(node)].left, node, rest), last)
        }

        /// `node`'s subtree as two trees: the regions starting below `key`,
        /// and the others.
        func split(_ node: Int32, at key: UInt64) -> (Int32, Int32) {
            guard node != RegionTree.none else { return (RegionTree.none, RegionTree.none) }
            // SAFETY: indices of nodes (see the type's comment).
            let left = nodes[Int(node)].left, right = nodes[Int(node)].right
            if key <= nodes[Int(node)].start {
                let (below, above) = split(left, at: key)
                return (below, join(above, node, right))
            }
            let (below, above) = split(right, at: key)
            return (join(left, node, below), above)
        }
    }

    // MARK: Checking

    /// True if invariants 1-4 hold (O(n); for tests and the checker).
    func isValid() -> Bool {
        var seen = 0
        guard check(root, above: 0, seen: &seen) != nil, seen == count else { return false }
        var vacancies = 0
        var slot = vacant
        while slot != Self.none && vacancies <= nodes.count {
            vacancies += 1
            slot = nodes[Int(slot)].left
        }
        return vacancies + count == nodes.count && payload.count == nodes.count
    }

    /// The height of a valid subtree whose regions all start at or above
    /// `above`, or nil.
    private func check(_ node: Int32, above: UInt64, seen: inout Int) -> Int32? {
        guard node != Self.none else { return 0 }
        let i = Int(node)
        let region = payload[i]
        guard let leftHeight = check(nodes[i].left, above: above, seen: &seen) else { return nil }
        let left = nodes[i].left, right = nodes[i].right
        if left != Self.none && nodes[Int(left)].highest > region.start.raw { return nil }
        guard region.start.raw >= above, region.start < region.end, nodes[i].start == region.start.raw,
              nodes[i].end == region.end.raw else { return nil }
        seen += 1
        guard let rightHeight = check(right, above: region.end.raw, seen: &seen) else { return nil }
        let height = 1 + Swift.max(leftHeight, rightHeight)
        var lowest = region.start.raw, highest = region.end.raw, gap: UInt64 = 0
        if left != Self.none {
            lowest = nodes[Int(left)].lowest
            gap = Swift.max(nodes[Int(left)].widestGap, region.start.raw - nodes[Int(left)].highest)
        }
        if right != Self.none {
            highest = nodes[Int(right)].highest
            gap = Swift.max(gap, Swift.max(nodes[Int(right)].widestGap, nodes[Int(right)].lowest - region.end.raw))
        }
        guard abs(Int(leftHeight) - Int(rightHeight)) <= 1, nodes[i].height == height, nodes[i].lowest == lowest,
              nodes[i].highest == highest, nodes[i].widestGap == gap else { return nil }
        return height
    }
}

/// The starts of up to four regions (`RegionTree.smallChange`), without
/// allocating; `overflowed` once more were appended.
struct RegionStarts {
    private var values: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private(set) var count = 0
    private(set) var overflowed = false

    mutating func append(_ value: UInt64) {
        switch count {
        case 0: values.0 = value
        case 1: values.1 = value
        case 2: values.2 = value
        case 3: values.3 = value
        default: overflowed = true; return
        }
        count += 1
    }

    subscript(index: Int) -> UInt64 {
        switch index {
        case 0: return values.0
        case 1: return values.1
        case 2: return values.2
        default: return values.3
        }
    }

    func contains(_ value: UInt64) -> Bool {
        for index in 0..<count where self[index] == value { return true }
        return false
    }
}
