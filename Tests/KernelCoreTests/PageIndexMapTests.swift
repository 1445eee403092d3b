// Host tests of PageIndexMap (Kernel/VM/PageIndexMap.swift), the memory
// objects' page index -> frame map, against the standard library's
// Dictionary as the model: random inserts, replacements and removals over
// a small key range (so that removals hit probe chains and the backward
// shift is exercised) and over sparse keys, with every lookup, the count
// and the iterated contents compared after each step.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct PageIndexMapTests {
    /// Every observable property of `map` equals the model's.
    static func expectSame(_ map: PageIndexMap, _ model: [UInt64: PhysicalAddress], keys: [UInt64]) {
        #expect(map.count == model.count && map.isEmpty == model.isEmpty)
        for key in keys { #expect(map[key] == model[key]) }
        var seen: [UInt64: PhysicalAddress] = [:]
        for (index, frame) in map {
            #expect(seen[index] == nil, "an index iterated twice")
            seen[index] = frame
        }
        #expect(seen == model)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomOperationsAgainstDictionary(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var map = PageIndexMap()
        var model: [UInt64: PhysicalAddress] = [:]
        let dense = (0..<64).map { UInt64($0) }
        let sparse = (0..<64).map { UInt64($0) * 0x1_0000_0001 }
        for step in 0..<4_000 {
            let keys = step % 1_000 < 500 ? dense : sparse
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            switch rng.next() % 4 {
            case 0, 1:
                let frame = PhysicalAddress((rng.next() % 1_000_000) << 12)
                map[key] = frame
                model[key] = frame
            case 2:
                #expect(map.removeValue(forKey: key) == model.removeValue(forKey: key))
            default:
                map[key] = nil
                model[key] = nil
            }
            if step % 997 == 996 { map.removeAll(); model.removeAll() }
            Self.expectSame(map, model, keys: keys)
        }
    }

    @Test func growsPastManyEntriesAndEmptiesAgain() {
        var map = PageIndexMap()
        for index in 0..<10_000 as Range<UInt64> { map[index] = PhysicalAddress(index << 12) }
        #expect(map.count == 10_000)
        for index in 0..<10_000 as Range<UInt64> { #expect(map[index] == PhysicalAddress(index << 12)) }
        for index in stride(from: 0, to: 10_000, by: 2) as StrideTo<UInt64> { map.removeValue(forKey: index) }
        #expect(map.count == 5_000 && map[0] == nil && map[1] == PhysicalAddress(1 << 12))
        for index in 0..<10_000 as Range<UInt64> { map[index] = nil }
        var iterator = map.makeIterator()
        #expect(map.isEmpty && iterator.next() == nil)
    }
}
