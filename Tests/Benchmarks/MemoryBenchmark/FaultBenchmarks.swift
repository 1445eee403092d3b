// Page-fault benchmarks: ns per resolved fault of the portable fault path
// (UserAddressSpace.resolve) on a simulated 1 GiB machine (host, release
// build). Figures only.
//
// Each figure resolves one fault per page of a fresh region, as the
// kernel's #PF handler would call it (no fake MMU: the access itself is
// not modelled, flushes go to a counting TLB):
// - read fault: maps the shared zero page;
// - demand-zero write fault: a zeroed frame (the 4 KiB zeroing included);
// - COW copy: a write to a page fork shared (a 4 KiB copy included);
// - COW reuse: the same write once the child has gone (nothing copied).
// Each figure is the best of a few rounds.

import KernelCore
import FakeMMU

private typealias BenchSpace = UserAddressSpace<SimulatedPhysicalMemory, TestFrameProvider>

private let machineBytes: UInt64 = 1 << 30
/// Above the allocator's frame table (32 bytes per frame: 8 MiB for 1 GiB).
private let firstFrame: UInt64 = 16 << 20
private let faultPages: UInt64 = 16 * 1024             // 64 MiB of 4 KiB pages
private let rounds = 5
private let regionStart: UInt64 = 0x0000_0010_0000_0000

private func nanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
}

/// Resolves one `access` fault on every page of the region; traps unless each is `expected`.
private func faultEveryPage(_ space: inout BenchSpace, _ access: MemoryAccess, present: Bool,
                            _ expected: FaultFix, _ tlb: CountingTLB) {
    for page in 0..<faultPages {
        let fault = PageFault(address: VirtualAddress(regionStart + page * pageSize), access: access,
                              wasPresent: present, fromUser: true)
        let outcome = space.resolve(fault, tlb: tlb)
        precondition(outcome == .resolved(expected), "unexpected fault outcome")
    }
}

func runFaultBenchmarks() {
    print("Page faults (UserAddressSpace.resolve, \(faultPages) pages per run, best of \(rounds)):")
    let memory = SimulatedPhysicalMemory(size: machineBytes)
    let frames = TestFrameProvider(memory: memory, firstFrame: PhysicalAddress(firstFrame),
                                   frameCount: Int((machineBytes - firstFrame) / pageSize))
    let kernel = try! PageTable(memory: memory, frames: frames, pinnedSlots: 255..<512)
    let tlb = CountingTLB()
    let clock = ContinuousClock()
    var best: [String: Double] = [:]
    func record(_ name: String, _ duration: Duration) {
        best[name] = min(best[name] ?? .infinity, nanoseconds(duration))
    }
    let request = MapRequest(address: VirtualAddress(regionStart), length: faultPages * pageSize,
                             protection: .readWrite, fixed: true)

    for _ in 0..<rounds {
        var space = try! BenchSpace(sharingKernelHalfOf: kernel)
        _ = try! space.map(request, tlb: tlb)
        record("read fault (zero page)", clock.measure {
            faultEveryPage(&space, .read, present: false, .zeroPage, tlb)
        })
        try! space.unmap(request.address!..<request.address! + request.length, tlb: tlb)
        _ = try! space.map(request, tlb: tlb)
        record("write fault (demand zero)", clock.measure {
            faultEveryPage(&space, .write, present: false, .demandZero, tlb)
        })
        let child = try! space.fork(kernel: kernel, tlb: tlb)
        record("write fault (COW copy)", clock.measure {
            faultEveryPage(&space, .write, present: true, .copyOnWrite, tlb)
        })
        child.tearDown()
        let second = try! space.fork(kernel: kernel, tlb: tlb)
        second.tearDown()
        record("write fault (COW reuse)", clock.measure {
            faultEveryPage(&space, .write, present: true, .reuse, tlb)
        })
        space.tearDown()
    }
    for name in ["read fault (zero page)", "write fault (demand zero)", "write fault (COW copy)",
                 "write fault (COW reuse)"] {
        let perPage = best[name]! / Double(faultPages)
        let padded = name + String(repeating: " ", count: max(0, 36 - name.count))
        print("  \(padded)\(Double(Int(perPage * 10)) / 10) ns/page")
    }
    kernel.tearDown { frames.releaseFrame($0) }
}
