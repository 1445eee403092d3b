// PageIndexMap: page index -> frame, the map behind a memory object's
// pages (SharedMemory, FileContents), in integer arithmetic only.
//
// Why not the standard library's Dictionary: its growth policy computes
// capacities in Double (_HashTable.scale(forCapacity:) divides by the
// maximum load factor and rounds up with `ceil`), and the kernel is built
// without x87/SSE so that a user task's FPU registers can stay live while
// it is in the kernel (Boot/fpu.inc). Linux keeps the page cache in an
// xarray, a radix tree; an open-addressing hash table is smaller here and
// is enough for objects of a few thousand pages.
//
// Invariants:
// 1. `slots.count` is 0 or a power of two, at least `minimumCapacity`.
// 2. A slot is vacant exactly when its index is `vacantIndex` (a page
//    index is below 2^52, so it never equals it).
// 3. Linear probing without tombstones: an occupied slot is reached from
//    its home slot (`home(of:)`) through occupied slots only. Removal
//    shifts the following entries back to keep this (Knuth's algorithm R).
// 4. `count` entries are occupied and count * 4 <= capacity * 3 (the load
//    factor 3/4, checked before each insertion).
// 5. `multiplier` is odd and fixed for the map's life; the home slot of an
//    index is the top log2(capacity) bits of index * multiplier.
// Cost: lookup, insertion and removal O(1) expected; iteration O(capacity).
//
// Why a random multiplier: a task chooses which pages of a MAP_SHARED
// mapping it touches. With a fixed multiplier it could pick indexes whose
// home slots coincide at every capacity (a fixed Fibonacci multiplier maps
// indexes spaced by the right Fibonacci number next to each other), make
// one probe chain as long as the map, and every fault on that object cost
// O(pages) with interrupts off. Multiply-shift with a random odd
// multiplier is a universal family (Dietzfelbinger et al., 1997: two
// distinct indexes share a home slot with probability at most
// 2 / capacity), so the task cannot aim without knowing the multiplier.
// It comes from SystemRandomNumberGenerator: arc4random_buf in the kernel
// (Runtime/libc.c, the seed of Swift's own hashing), getrandom on the host.
public struct PageIndexMap: Sequence {
    /// One entry: a page index and its frame.
    struct Slot {
        var index: UInt64
        var frame: PhysicalAddress
    }

    private static let vacantIndex = UInt64.max
    private static var vacant: Slot { Slot(index: vacantIndex, frame: PhysicalAddress(0)) }
    private static let minimumCapacity = 8
    /// The load factor 3/4 as a fraction (invariant 4).
    private static let loadNumerator = 3, loadDenominator = 4
    /// The hash multiplier (invariant 5).
    private let multiplier: UInt64

    private var slots: [Slot] = []
    /// 64 - log2(capacity): the home slot is the product's top bits.
    private var shift: UInt64 = 64
    public private(set) var count = 0

    public init() {
        var entropy = SystemRandomNumberGenerator()
        multiplier = entropy.next() | 1
    }

    public var isEmpty: Bool { count == 0 }

    /// The frame of page `index`, if any. Setting nil removes the entry.
    public subscript(index: UInt64) -> PhysicalAddress? {
        get {
            guard let slot = find(index) else { return nil }
            return slots[slot].frame
        }
        set {
            if let frame = newValue { insert(frame, at: index) } else { _ = removeValue(forKey: index) }
        }
    }

    /// Removes page `index`'s entry; returns its frame (nil if there was none).
    @discardableResult
    public mutating func removeValue(forKey index: UInt64) -> PhysicalAddress? {
        guard var hole = find(index) else { return nil }
        let frame = slots[hole].frame
        let mask = slots.count - 1
        var next = (hole + 1) & mask
        // Invariant 3: pull back every entry whose probe path crosses the hole.
        while slots[next].index != Self.vacantIndex {
            let home = self.home(of: slots[next].index)
            if (next &- home) & mask >= (next &- hole) & mask {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = Self.vacant
        count -= 1
        return frame
    }

    /// Removes every entry and frees the table.
    public mutating func removeAll() {
        slots = []
        shift = 64
        count = 0
    }

    /// Sets page `index`'s frame, replacing any earlier one.
    private mutating func insert(_ frame: PhysicalAddress, at index: UInt64) {
        precondition(index != Self.vacantIndex, "PageIndexMap: reserved page index")
        if let slot = find(index) {
            slots[slot].frame = frame
            return
        }
        if (count + 1) * Self.loadDenominator > slots.count * Self.loadNumerator {
            grow()
        }
        let mask = slots.count - 1
        var slot = home(of: index)
        while slots[slot].index != Self.vacantIndex { slot = (slot + 1) & mask }
        slots[slot] = Slot(index: index, frame: frame)
        count += 1
    }

    /// The slot holding `index`, if any.
    private func find(_ index: UInt64) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var slot = home(of: index)
        while true {
            let held = slots[slot].index
            if held == index { return slot }
            if held == Self.vacantIndex { return nil }
            slot = (slot + 1) & mask
        }
    }

    /// Where the probe for `index` starts. Contract: the table is not empty.
    private func home(of index: UInt64) -> Int {
        Int(truncatingIfNeeded: (index &* multiplier) >> shift)
    }

    /// Doubles the table (or creates it) and re-inserts every entry.
    private mutating func grow() {
        let old = slots
        let capacity = Swift.max(Self.minimumCapacity, old.count * 2)
        slots = Array(repeating: Self.vacant, count: capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        count = 0
        for slot in old where slot.index != Self.vacantIndex { insert(slot.frame, at: slot.index) }
    }

    /// The entries, in no particular order (like Dictionary's).
    public struct Iterator: IteratorProtocol {
        fileprivate let slots: [Slot]
        fileprivate var position = 0

        public mutating func next() -> (index: UInt64, frame: PhysicalAddress)? {
            while position < slots.count {
                let slot = slots[position]
                position += 1
                if slot.index != PageIndexMap.vacantIndex { return (slot.index, slot.frame) }
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(slots: slots) }
}
