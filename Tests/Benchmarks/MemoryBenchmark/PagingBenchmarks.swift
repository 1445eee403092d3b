// Paging benchmarks: ns per 4 KiB page for map, translate, protect and
// unmap on a simulated 1 GiB machine (host, release build). Figures only.
//
// Design: page-table pages and the mapped "data" frames come from one
// TestFrameProvider (the real FrameAllocator) over the simulated RAM above
// its frame table. The data frames are allocated (and zeroed) before the
// timed part and handed to the cursor with OwnedFrame(adopting:), each
// leaf taking over the one reference; unmapping hands them back to the
// benchmark, which frees them at the end. So the figures measure the
// page-table code (including its map counts), not the allocator. Since
// issue [4] the cursor maintains map counts, so the frames must be real
// allocated frames (made-up ones trap in the allocator). Flushes go
// to a TLBControl that only counts (the cost of invlpg itself is not
// modelled). Each figure is the best of a few rounds.

import KernelCore
import FakeMMU

/// Counts what it is asked to do and does nothing (every benchmark's TLB).
final class CountingTLB: TLBControl {
    var pages = 0
    var fullFlushes = 0
    func invalidatePage(_ address: VirtualAddress) { pages += 1 }
    func flushAll(includingGlobal: Bool) { fullFlushes += 1 }
}

private let machineBytes: UInt64 = 1 << 30
/// Above the allocator's frame table (32 bytes per frame: 8 MiB for 1 GiB).
private let firstFrame: UInt64 = 16 << 20
private let benchmarkPages: UInt64 = 64 * 1024          // 256 MiB of 4 KiB pages
private let rounds = 5
private let regionStart: UInt64 = 0x0000_0010_0000_0000

private func nanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
}

private func report(_ name: String, _ best: Double) {
    let perPage = best / Double(benchmarkPages)
    let padded = name + String(repeating: " ", count: max(0, 36 - name.count))
    print("  \(padded)\(Double(Int(perPage * 10)) / 10) ns/page")
}

func runPagingBenchmarks() {
    print("Paging (x86-64 4-level tables, \(benchmarkPages) pages of 4 KiB per run, best of \(rounds)):")
    let memory = SimulatedPhysicalMemory(size: machineBytes)
    let frames = TestFrameProvider(memory: memory, firstFrame: PhysicalAddress(firstFrame),
                                   frameCount: Int((machineBytes - firstFrame) / pageSize))
    let tlb = CountingTLB()
    let clock = ContinuousClock()
    var best: [String: Double] = [:]
    func record(_ name: String, _ duration: Duration) {
        best[name] = min(best[name] ?? .infinity, nanoseconds(duration))
    }
    let range = VirtualAddress(regionStart)..<VirtualAddress(regionStart + benchmarkPages * pageSize)

    for _ in 0..<rounds {
        var table = try! PageTable(memory: memory, frames: frames)
        let data = (0..<benchmarkPages).map { _ in frames.allocateFrame(kind: .user)!.intoRaw() }
        record("map (owned frame, page by page)", clock.measure {
            var cursor = try! table.cursor(over: range)
            for page in 0..<Int(benchmarkPages) {
                try! cursor.map(OwnedFrame(adopting: data[page]), .userReadWrite)
            }
            cursor.finish().flush(using: tlb)
        })
        var checksum: UInt64 = 0
        record("translate", clock.measure {
            for page in 0..<benchmarkPages {
                checksum &+= table.translate(VirtualAddress(regionStart + page * pageSize + 0x10))!.raw
            }
        })
        precondition(checksum != 0)
        record("protect (one range call)", clock.measure {
            var cursor = try! table.cursor(over: range)
            try! cursor.protect(length: benchmarkPages * pageSize, .userReadOnly)
            cursor.finish().flush(using: tlb)
        })
        record("protect (page by page, one cursor)", clock.measure {
            var cursor = try! table.cursor(over: range)
            for _ in 0..<benchmarkPages { try! cursor.protect(length: pageSize, .userReadWrite) }
            cursor.finish().flush(using: tlb)
        })
        record("unmap (one range call)", clock.measure {
            var cursor = try! table.cursor(over: range)
            try! cursor.unmap(length: benchmarkPages * pageSize) { frame in _ = frame.intoRaw() }
            cursor.finish().flush(using: tlb)
        })
        record("mapPhysical (one range call)", clock.measure {
            var cursor = try! table.cursor(over: range)
            try! cursor.mapPhysical(PhysicalAddress(firstFrame), length: benchmarkPages * pageSize,
                                    size: .size4KiB, .kernelReadWrite)
            cursor.finish().flush(using: tlb)
        })
        var cursor = try! table.cursor(over: range)
        try! cursor.unmap(length: benchmarkPages * pageSize) { frame in _ = frame.intoRaw() }
        cursor.finish().skipBecauseSpaceIsNotLoaded()
        table.tearDown { frames.releaseFrame($0) }
        for frame in data { frames.releaseFrame(OwnedFrame(adopting: frame)) }
    }
    for name in ["map (owned frame, page by page)", "mapPhysical (one range call)", "translate",
                 "protect (one range call)", "protect (page by page, one cursor)", "unmap (one range call)"] {
        report(name, best[name]!)
    }
    print("  (TLB requests over all runs: \(tlb.pages) invlpg, \(tlb.fullFlushes) full flushes)")
}
