// Frame allocator benchmarks: ns per operation on a simulated 1 GiB machine.
// Figures only. Every allocation zeroes its frames, so the figures include
// a 4 KiB memset per frame (printed separately for comparison).
import KernelCore
import FakeMMU

/// Runs `body` (which performs `operations` operations) once to warm up
/// (the host faults in simulated RAM on first touch), then again timed, and
/// prints ns per operation.
private func report(_ label: String, operations: Int, _ body: () -> Void) {
    body()
    let elapsed = ContinuousClock().measure(body)
    let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    let perOp = ns / Double(operations)
    print("  \(label): \(Double(Int(perOp * 10)) / 10) ns/op (\(operations) ops)")
}

func runFrameBenchmarks() {
    let size: UInt64 = 1 << 30
    let memory = SimulatedPhysicalMemory(size: size)
    let regions = [
        MemoryRegion(start: 0, end: 0x9_FC00, kind: .usable),
        MemoryRegion(start: 0x10_0000, end: size, kind: .usable),
    ]
    var built: FrameAllocator<SimulatedPhysicalMemory>? = nil
    print("Frame allocator (buddy, max order \(FrameAllocator<SimulatedPhysicalMemory>.maxOrder)):")
    report("init over 1 GiB (262144 frames, table already faulted in)", operations: 1) {
        built = try? FrameAllocator(memory: memory, regions: regions, reserved: [0x10_0000 ..< 0x40_0000])
    }
    guard let allocator = built else { print("  init failed"); return }
    print("  free frames: \(allocator.statistics.freeFrames), metadata frames: \(allocator.statistics.frames(.metadata))")
    var warm: [PhysicalAddress] = []
    for _ in 0 ..< 64 { if let frame = allocator.allocateFrame(kind: .other) { warm.append(frame.intoRaw()) } }

    // Zeroing alone, for reference: 64 frames in turn, read back so it is not optimised away.
    var checksum: UInt8 = 0
    report("zeroing one 4 KiB frame (for reference)", operations: 1_000_000) {
        for i in 0 ..< 1_000_000 {
            let p = memory.pointer(to: warm[i & 63])
            p.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
            checksum &+= p.load(fromByteOffset: i & 4095, as: UInt8.self)
        }
    }
    if checksum != 0 { print("  (checksum \(checksum))") }
    for a in warm { allocator.release(a) }

    report("single frame alloc+free, back to back", operations: 1_000_000) {
        for _ in 0 ..< 1_000_000 {
            guard let frame = allocator.allocateFrame(kind: .user) else { fatalError("out of frames") }
            allocator.releaseFrame(frame)
        }
    }

    var held = [PhysicalAddress](repeating: PhysicalAddress(0), count: 65536)
    var rng = SplitMix64(seed: 12345)
    report("single frame: 64Ki allocs then 64Ki frees in random order, per alloc+free", operations: 65536 * 10) {
        for _ in 0 ..< 10 {
            for i in 0 ..< held.count {
                guard let frame = allocator.allocateFrame(kind: .user) else { fatalError("out of frames") }
                held[i] = frame.intoRaw()
            }
            held.shuffle(using: &rng)
            for a in held { allocator.release(a) }
        }
    }

    report("16-frame contiguous alloc+free, back to back", operations: 100_000) {
        for _ in 0 ..< 100_000 {
            guard let run = allocator.allocateContiguous(frames: 16, kind: .kernelStack) else { fatalError("out of frames") }
            allocator.freeContiguous(run, frames: 16)
        }
    }

    var runs = [PhysicalAddress](repeating: PhysicalAddress(0), count: 4096)
    report("16-frame contiguous: 4Ki allocs then 4Ki frees in random order, per alloc+free", operations: 4096 * 10) {
        for _ in 0 ..< 10 {
            for i in 0 ..< runs.count {
                guard let run = allocator.allocateContiguous(frames: 16, kind: .kernelStack) else { fatalError("out of frames") }
                runs[i] = run
            }
            runs.shuffle(using: &rng)
            for run in runs { allocator.freeContiguous(run, frames: 16) }
        }
    }
    if allocator.violationCount != 0 { print("  violations: \(allocator.violationCount)") }
}
