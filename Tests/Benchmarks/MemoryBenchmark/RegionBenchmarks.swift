// Region index benchmarks: ns per operation of RegionList (Kernel/VM/
// RegionList.swift over RegionTree.swift) at 10, 1,000, 10,000 and 65,000
// regions. Figures only.
//
// The list holds n one-page regions of alternating protection (so none
// merges), each followed by a one-page hole, and a two-page hole after
// every 16th region. Per size:
// - lookup: region(containing:) at a random page of the span (a region or
//   a hole);
// - insert+remove: a one-page region of a third protection into a random
//   hole, then its removal (two splices; the list is as before);
// - gap search: highestGap for two pages below a random upper bound (the
//   descent along the bound's path, pruning subtrees by their widest gap);
//   a scan would visit up to 16 holes, or all n for three pages.
// - gap search, none fits: highestGap for three pages inside the span,
//   which holds none (a scan visits every hole; the tree prunes at the root).
// Each figure is the best of a few rounds; next to it, the figure divided
// by log2 n, which stays flat where the cost grows as log n (a rise at the
// largest sizes is the nodes leaving the caches, not more steps).
// The same figures for the sorted array the index replaced
// (SortedArrayBaseline.swift) follow, with fewer operations at the large
// sizes, where each of its inserts moves every region above it.

import KernelCore
import FakeMMU

private let regionSizes = [10, 1_000, 10_000, 65_000]
private let regionOperations = 200_000
private let regionRounds = 3
private let regionBase: UInt64 = 0x0000_0010_0000_0000

/// What the benchmark times, for the index and for the baseline.
protocol BenchmarkedRegions {
    init()
    func region(containing address: VirtualAddress) -> Region?
    func isFree(_ range: Range<VirtualAddress>) -> Bool
    mutating func insert(_ region: Region)
    mutating func remove(_ range: Range<VirtualAddress>)
    func highestGap(length: UInt64, in bounds: Range<VirtualAddress>) -> VirtualAddress?
}

extension RegionList: BenchmarkedRegions {}
extension SortedArrayRegionList: BenchmarkedRegions {}

private func regionNanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
}

/// The list described above, and the page number just past its span.
private func regionBenchmarkList<List: BenchmarkedRegions>(_: List.Type, count: Int) -> (List, UInt64) {
    var list = List()
    var page: UInt64 = 0
    for index in 0..<count {
        let start = VirtualAddress(regionBase + page * pageSize)
        list.insert(Region(range: start..<start + pageSize, protection: index % 2 == 0 ? .read : .readWrite,
                           kind: .anonymous))
        page += index % 16 == 15 ? 3 : 2
    }
    return (list, page)
}

/// ns per operation for each figure, with n regions.
private func measureRegions<List: BenchmarkedRegions>(_ type: List.Type, count: Int, operations: Int) -> [Double] {
    var (list, span) = regionBenchmarkList(type, count: count)
    var rng = SplitMix64(seed: UInt64(count))
    var pages: [UInt64] = []
    for _ in 0..<operations { pages.append(rng.next() % span) }
    let spanEnd = regionBase + span * pageSize
    var holes: [VirtualAddress] = []
    for page in pages {
        let address = VirtualAddress(regionBase + page * pageSize)
        let hole = list.region(containing: address) == nil ? address : address + pageSize
        if hole.raw < spanEnd { holes.append(hole) }
    }
    var best = [Double](repeating: .infinity, count: 4)
    var sink = 0
    let clock = ContinuousClock()
    for _ in 0..<regionRounds {
        best[0] = min(best[0], regionNanoseconds(clock.measure {
            for page in pages where list.region(containing: VirtualAddress(regionBase + page * pageSize)) != nil {
                sink += 1
            }
        }))
        best[1] = min(best[1], regionNanoseconds(clock.measure {
            for hole in holes {
                let range = hole..<hole + pageSize
                if list.isFree(range) {
                    list.insert(Region(range: range, protection: .readExecute, kind: .anonymous))
                    list.remove(range)
                }
            }
        }))
        best[2] = min(best[2], regionNanoseconds(clock.measure {
            for page in pages {
                let bounds = VirtualAddress(regionBase)..<VirtualAddress(regionBase + (page + 1) * pageSize)
                if list.highestGap(length: 2 * pageSize, in: bounds) != nil { sink += 1 }
            }
        }))
        best[3] = min(best[3], regionNanoseconds(clock.measure {
            let bounds = VirtualAddress(regionBase)..<VirtualAddress(spanEnd)
            for _ in pages where list.highestGap(length: 3 * pageSize, in: bounds) != nil { sink += 1 }
        }))
    }
    precondition(sink >= 0 && list.region(containing: VirtualAddress(regionBase)) != nil, "benchmark list broken")
    return [best[0] / Double(operations), best[1] / Double(holes.count), best[2] / Double(operations),
            best[3] / Double(operations)]
}

private func printRegionTable<List: BenchmarkedRegions>(_ type: List.Type, operations: (Int) -> Int) {
    print("  regions  lookup           insert+remove     gap search       gap search, none fits")
    for count in regionSizes {
        let figures = measureRegions(type, count: count, operations: operations(count))
        let log = Double.log2(count)
        var line = "  " + pad(String(count), 7)
        for value in figures {
            line += pad("\(tenths(value)) ns (\(tenths(value / log))/lg)", 17) + " "
        }
        print(line)
    }
}

func runRegionBenchmarks() {
    print("Region index (RegionList over RegionTree, \(regionOperations) ops per run, best of \(regionRounds);")
    print("  /lg: ns divided by log2 of the region count):")
    printRegionTable(RegionList.self) { _ in regionOperations }
    print("The sorted array it replaced (SortedArrayBaseline.swift; 2000 ops per run from 10000 regions):")
    printRegionTable(SortedArrayRegionList.self) { $0 >= 10_000 ? 2_000 : regionOperations }
}

private func tenths(_ value: Double) -> Double { Double(Int(value * 10)) / 10 }

private func pad(_ text: String, _ width: Int) -> String {
    text + String(repeating: " ", count: max(0, width - text.count))
}

private extension Double {
    static func log2(_ count: Int) -> Double {
        var value = Double(count), log = 0.0
        while value >= 2 { value /= 2; log += 1 }
        return log + (value - 1)  // linear between powers of two: enough for a scale
    }
}
