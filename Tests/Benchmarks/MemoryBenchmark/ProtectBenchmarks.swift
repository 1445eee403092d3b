// mprotect benchmark: ns per UserAddressSpace.protect call that splits a
// region in three (one page of a 256-page region made read-only) and per
// call that merges it back, as bench/mprotect_split does in QEMU. The
// pages are resident, so the page-table update is included. Figures only.

import KernelCore
import FakeMMU

private typealias ProtectSpace = UserAddressSpace<SimulatedPhysicalMemory, TestFrameProvider>

func runProtectBenchmarks() {
    let pages: UInt64 = 256, calls = 20_000, rounds = 3
    print("mprotect (UserAddressSpace.protect, a \(pages)-page resident region, \(calls) calls per run, best of \(rounds)):")
    let memory = SimulatedPhysicalMemory(size: 64 << 20)
    let frames = TestFrameProvider(memory: memory, firstFrame: PhysicalAddress(4 << 20), frameCount: 8192)
    let kernel = try! PageTable(memory: memory, frames: frames, pinnedSlots: 255..<512)
    let tlb = CountingTLB()
    let start: UInt64 = 0x0000_0010_0000_0000
    var space = try! ProtectSpace(sharingKernelHalfOf: kernel)
    _ = try! space.map(MapRequest(address: VirtualAddress(start), length: pages * pageSize, protection: .readWrite,
                                  fixed: true), tlb: tlb)
    for page in 0..<pages {
        _ = space.resolve(PageFault(address: VirtualAddress(start + page * pageSize), access: .write,
                                    wasPresent: false, fromUser: true), tlb: tlb)
    }
    let clock = ContinuousClock()
    var best = Double.infinity
    for _ in 0..<rounds {
        let elapsed = clock.measure {
            for call in 0..<calls {
                let page = VirtualAddress(start + UInt64(1 + 2 * (call % 100)) * pageSize)
                try! space.protect(page..<page + pageSize, to: .read, tlb: tlb)
                try! space.protect(page..<page + pageSize, to: .readWrite, tlb: tlb)
            }
        }
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        best = min(best, ns / Double(2 * calls))
    }
    print("  split or merge, per call          \(Double(Int(best * 10)) / 10) ns")
    space.tearDown()
    kernel.tearDown { frames.releaseFrame($0) }
}
