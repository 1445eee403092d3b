import Testing
@testable import KernelCore
import FakeMMU
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

private let KiB: UInt64 = 1 << 10
private let MiB: UInt64 = 1 << 20
private let GiB: UInt64 = 1 << 30
private let maxOrder = FrameAllocator<SimulatedPhysicalMemory>.maxOrder
nonisolated(unsafe) private let zeroPage = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
    .initializeMemory(as: UInt8.self, repeating: 0, count: 4096)

/// A simulated machine, its allocator, and an independent model of which
/// frames the allocator may hand out (computed from the map, not by the allocator).
final class FrameFixture {
    typealias Allocator = FrameAllocator<SimulatedPhysicalMemory>
    let memory: SimulatedPhysicalMemory
    let allocator: Allocator
    let regions: [MemoryRegion]
    let reserved: [Range<UInt64>]
    var violations: [FrameViolation] = []

    init(size: UInt64, regions: [MemoryRegion], reserved: [Range<UInt64>] = []) throws {
        memory = SimulatedPhysicalMemory(size: size)
        self.regions = regions
        self.reserved = reserved
        allocator = try Allocator(memory: memory, regions: regions, reserved: reserved)
        allocator.violationHandler = { [unowned self] in self.violations.append($0) }
    }

    /// A plain PC-like map: low 639 KiB, then [1 MiB, size).
    convenience init(size: UInt64, reserved: [Range<UInt64>] = [0x10_0000 ..< 0x30_0000]) throws {
        try self.init(size: size, regions: [
            MemoryRegion(start: 0, end: 0x9_FC00, kind: .usable),
            MemoryRegion(start: 0x9_FC00, end: 0x10_0000, kind: .reserved),
            MemoryRegion(start: 0x10_0000, end: size, kind: .usable),
        ], reserved: reserved)
    }

    /// True if the allocator may ever hand out the frame at `address`.
    func allowed(_ address: UInt64) -> Bool {
        let frame = address ..< address + pageSize
        func overlaps(_ r: Range<UInt64>) -> Bool { r.lowerBound < frame.upperBound && frame.lowerBound < r.upperBound }
        guard address >= MiB, address % pageSize == 0 else { return false }
        guard regions.contains(where: { $0.kind == .usable && $0.start <= address && address + pageSize <= $0.end })
        else { return false }
        if regions.contains(where: { $0.kind != .usable && overlaps($0.start ..< $0.end) }) { return false }
        if reserved.contains(where: overlaps) { return false }
        return !overlaps(allocator.metadataRange)
    }

    var stats: FrameStatistics { allocator.statistics }

    struct OutOfFrames: Error {}
    /// A frame of `kind`, as the raw address that now holds its reference.
    func allocate(_ kind: FrameKind) throws -> PhysicalAddress {
        guard let frame = allocator.allocateFrame(kind: kind) else { throw OutOfFrames() }
        return frame.intoRaw()
    }

    func checkInvariants(_ comment: Comment? = nil) {
        #expect(allocator.verifyInvariants() == nil, comment)
        let s = stats
        #expect(s.framesByKind.reduce(0, +) == s.totalFrames, comment)
    }

    func fill(_ address: PhysicalAddress, frames: Int, with byte: UInt8) {
        memory.pointer(to: address).initializeMemory(as: UInt8.self, repeating: byte, count: frames * Int(pageSize))
    }

    func isZero(_ address: PhysicalAddress, frames: Int) -> Bool {
        (0 ..< UInt64(frames)).allSatisfy { memcmp(memory.pointer(to: address + $0 * pageSize), zeroPage, Int(pageSize)) == 0 }
    }
}

@Suite struct FrameAllocatorTests {
    /// 32 bytes since issue [4] (map count, flags and the reverse-map
    /// owner and index joined the reference count): 0.78% of RAM.
    @Test func frameInfoIsThirtyTwoBytes() {
        #expect(MemoryLayout<FrameInfo>.size == 32)
        #expect(MemoryLayout<FrameInfo>.stride == 32)
    }

    @Test func statisticsOfASimpleMap() throws {
        let f = try FrameFixture(size: 64 * MiB)
        let s = f.stats
        // Usable: 159 frames below 640 KiB (0x9FC00 rounds down) + 64 MiB - 1 MiB.
        let total = 159 + Int((64 * MiB - MiB) / pageSize)
        #expect(s.totalFrames == total)
        // Table: 16384 frames * 32 bytes = 128 frames, right above the kernel image.
        #expect(s.frames(.metadata) == 128)
        #expect(f.allocator.metadataRange == 0x30_0000 ..< 0x38_0000)
        // Withheld: the low 159 frames and the 2 MiB image.
        #expect(s.frames(.reserved) == 159 + 512)
        #expect(s.freeFrames == total - 128 - 159 - 512)
        #expect(f.allocator.kind(of: PhysicalAddress(0x30_0000)) == .metadata)
        #expect(f.allocator.kind(of: PhysicalAddress(0x20_0000)) == .reserved)
        #expect(f.allocator.kind(of: PhysicalAddress(0x1000)) == .reserved)
        #expect(f.allocator.kind(of: PhysicalAddress(0x40_0000)) == .free)
        #expect(f.allocator.kind(of: PhysicalAddress(64 * MiB)) == .reserved)  // beyond RAM
        f.checkInvariants()
    }

    @Test func singleFrameIsZeroedCountedAndReturned() throws {
        let f = try FrameFixture(size: 16 * MiB)
        let before = f.stats
        // Dirty all free memory so zeroing is observable.
        var held: [PhysicalAddress] = []
        while let frame = f.allocator.allocateFrame(kind: .other) {
            f.fill(frame.address, frames: 1, with: 0xAB)
            held.append(frame.intoRaw())
        }
        while let a = held.popLast() { f.allocator.releaseFrame(OwnedFrame(adopting: a)) }
        #expect(f.stats == before)

        let frame = OwnedFrame(adopting: try f.allocate(.pageTable))
        #expect(f.allowed(frame.address.raw))
        #expect(f.isZero(frame.address, frames: 1))
        #expect(f.allocator.referenceCount(of: frame.address) == 1)
        #expect(f.allocator.kind(of: frame.address) == .pageTable)
        #expect(f.stats.frames(.pageTable) == 1)
        #expect(f.stats.freeFrames == before.freeFrames - 1)
        f.checkInvariants()
        let address = frame.address
        f.allocator.releaseFrame(frame)
        #expect(f.allocator.kind(of: address) == .free)
        #expect(f.allocator.referenceCount(of: address) == 0)
        #expect(f.stats == before)
        f.checkInvariants()
        #expect(f.violations.isEmpty)
    }

    /// Process kinds stop at the kernel reserve; kernel kinds may use it.
    @Test func processKindsLeaveTheKernelReserveAlone() throws {
        let f = try FrameFixture(size: 16 * MiB)
        let reserve = 8
        f.allocator.kernelReserve = reserve
        var held: [PhysicalAddress] = []
        while let frame = f.allocator.allocateFrame(kind: .user) { held.append(frame.intoRaw()) }
        #expect(f.stats.freeFrames == reserve, "user allocations stop with the reserve left")
        var stackRefused = true
        if let stack = f.allocator.allocateFrame(kind: .kernelStack) {
            stackRefused = false
            f.allocator.releaseFrame(stack)
        }
        #expect(stackRefused, "kernel stacks are for processes too")
        var kernel: [PhysicalAddress] = []
        while let frame = f.allocator.allocateFrame(kind: .kernelHeap) { kernel.append(frame.intoRaw()) }
        #expect(kernel.count == reserve, "the heap may take the reserve")
        for a in held + kernel { f.allocator.releaseFrame(OwnedFrame(adopting: a)) }
        f.checkInvariants()
        #expect(f.violations.isEmpty)
    }

    @Test func referenceCountsFreeOnlyAtZero() throws {
        let f = try FrameFixture(size: 16 * MiB)
        let before = f.stats
        let frame = OwnedFrame(adopting: try f.allocate(.user))
        let a = frame.address
        f.allocator.retain(a)
        f.allocator.retain(a)
        #expect(f.allocator.referenceCount(of: a) == 3)
        #expect(f.allocator.release(a) == false)
        #expect(f.allocator.referenceCount(of: a) == 2)
        f.allocator.releaseFrame(frame)  // drops one reference, does not free
        #expect(f.allocator.referenceCount(of: a) == 1)
        #expect(f.allocator.kind(of: a) == .user)
        #expect(f.stats.frames(.user) == 1)
        #expect(f.allocator.release(a) == true)
        #expect(f.allocator.kind(of: a) == .free)
        #expect(f.stats == before)
        #expect(f.violations.isEmpty)
        f.checkInvariants()
    }

    @Test func mapCountsAndReleasingAMappedFrame() throws {
        let f = try FrameFixture(size: 16 * MiB)
        let a = try f.allocate(.user)
        #expect(f.allocator.mapCount(of: a) == 0)
        f.allocator.retain(a)               // each leaf holds its own reference
        f.allocator.incrementMapCount(a)
        f.allocator.incrementMapCount(a)
        #expect(f.allocator.mapCount(of: a) == 2)
        f.allocator.incrementMapCount(a)    // a third map count with two references
        #expect(f.violations == [FrameViolation(.incrementMapCount, .countOverflow, a)])
        #expect(f.allocator.mapCount(of: a) == 2)
        f.allocator.decrementMapCount(a)
        #expect(f.allocator.mapCount(of: a) == 1)
        #expect(f.allocator.release(a) == false)   // 2 -> 1 reference: not freed
        // The last reference cannot go while a page table still maps the frame.
        let stats = f.stats
        #expect(f.allocator.release(a) == false)
        #expect(f.violations.last == FrameViolation(.release, .frameStillMapped, a))
        #expect(f.allocator.referenceCount(of: a) == 1)
        #expect(f.stats == stats)
        f.allocator.decrementMapCount(a)
        f.allocator.decrementMapCount(a)  // underflow
        #expect(f.violations.last == FrameViolation(.decrementMapCount, .countUnderflow, a))
        #expect(f.allocator.mapCount(of: a) == 0)
        #expect(f.allocator.release(a) == true)
        f.allocator.incrementMapCount(a)  // of a free frame
        #expect(f.violations.last == FrameViolation(.incrementMapCount, .frameIsFree, a))
        #expect(f.allocator.mapCount(of: a) == 0)
        #expect(f.allocator.violationCount == 4)
        f.checkInvariants()
    }

    @Test func aHundredThousandMappingsOfOneFrameFitTheCounts() throws {
        let f = try FrameFixture(size: 16 * MiB)
        let a = try f.allocate(.user)
        for _ in 0..<100_000 { f.allocator.retain(a); f.allocator.incrementMapCount(a) }
        #expect(f.allocator.referenceCount(of: a) == 100_001)
        #expect(f.allocator.mapCount(of: a) == 100_000)
        for _ in 0..<100_000 { f.allocator.decrementMapCount(a); f.allocator.release(a) }
        #expect(f.allocator.release(a) == true)
        #expect(f.violations.isEmpty)
        f.checkInvariants()
    }

    @Test func misuseIsReportedAndChangesNothing() throws {
        let f = try FrameFixture(size: 16 * MiB)
        let a = try f.allocate(.kernelHeap)
        let b = try f.allocate(.kernelHeap)
        #expect(f.allocator.release(a))
        let stats = f.stats
        let table = f.allocator.metadataRange.lowerBound
        let cases: [(() -> Void, FrameViolation)] = [
            ({ f.allocator.release(a) }, FrameViolation(.release, .frameIsFree, a)),  // double free
            ({ f.allocator.retain(a) }, FrameViolation(.retain, .frameIsFree, a)),
            ({ f.allocator.release(PhysicalAddress(0x20_0000)) },                      // kernel image
             FrameViolation(.release, .frameNotAllocatable, PhysicalAddress(0x20_0000))),
            ({ f.allocator.release(PhysicalAddress(0x1000)) },                          // low memory
             FrameViolation(.release, .frameNotAllocatable, PhysicalAddress(0x1000))),
            ({ f.allocator.release(PhysicalAddress(table)) },                           // the table
             FrameViolation(.release, .frameNotAllocatable, PhysicalAddress(table))),
            ({ f.allocator.release(PhysicalAddress(0xA_0000)) },                        // a hole
             FrameViolation(.release, .frameNotAllocatable, PhysicalAddress(0xA_0000))),
            ({ f.allocator.release(PhysicalAddress(1 << 40)) },                         // beyond RAM
             FrameViolation(.release, .frameNotAllocatable, PhysicalAddress(1 << 40))),
            ({ f.allocator.release(b + 8) }, FrameViolation(.release, .notPageAligned, b + 8)),
            ({ f.allocator.retain(PhysicalAddress(0x20_0000)) },
             FrameViolation(.retain, .frameNotAllocatable, PhysicalAddress(0x20_0000))),
            ({ f.allocator.freeContiguous(a, frames: 1) }, FrameViolation(.freeContiguous, .frameIsFree, a)),
            ({ f.allocator.freeContiguous(b, frames: 0) }, FrameViolation(.freeContiguous, .invalidArgument, b)),
            ({ _ = f.allocator.allocateFrame(kind: .free) },
             FrameViolation(.allocate, .invalidArgument, PhysicalAddress(0))),
            ({ _ = f.allocator.allocateContiguous(frames: 2048, kind: .other) },
             FrameViolation(.allocate, .invalidArgument, PhysicalAddress(0))),
        ]
        for (index, (action, expected)) in cases.enumerated() {
            action()
            #expect(f.violations.count == index + 1, "case \(index)")
            #expect(f.violations.last == expected, "case \(index)")
            #expect(f.allocator.lastViolation == expected, "case \(index)")
            #expect(f.stats == stats, "case \(index)")
            #expect(f.allocator.referenceCount(of: b) == 1)
        }
        #expect(f.allocator.violationCount == cases.count)
        f.checkInvariants()
    }

    @Test func freeContiguousIsAllOrNothing() throws {
        let f = try FrameFixture(size: 16 * MiB)
        let run = try #require(f.allocator.allocateContiguous(frames: 8, kind: .kernelStack))
        // Free one frame of the run by hand, then ask for the whole run back.
        #expect(f.allocator.release(run + 3 * pageSize))
        let stats = f.stats
        f.allocator.freeContiguous(run, frames: 8)
        #expect(f.violations == [FrameViolation(.freeContiguous, .frameIsFree, run + 3 * pageSize)])
        #expect(f.stats == stats)
        for i in [0, 1, 2, 4, 5, 6, 7] as [UInt64] {
            #expect(f.allocator.referenceCount(of: run + i * pageSize) == 1)
        }
        f.allocator.freeContiguous(run, frames: 3)
        f.allocator.freeContiguous(run + 4 * pageSize, frames: 4)
        #expect(f.stats.frames(.kernelStack) == 0)
        f.checkInvariants()
        // Sub-runs, one of them a power of two that is not aligned to itself.
        let baseline = f.stats
        let other = try #require(f.allocator.allocateContiguous(frames: 8, kind: .kernelStack))
        f.allocator.freeContiguous(other + 2 * pageSize, frames: 4)
        f.checkInvariants()
        f.allocator.freeContiguous(other, frames: 2)
        f.allocator.freeContiguous(other + 6 * pageSize, frames: 2)
        #expect(f.stats == baseline)
        #expect(f.violations.count == 1)
        f.checkInvariants()
    }

    @Test func contiguousRunsAreAlignedZeroedAndExact() throws {
        let f = try FrameFixture(size: 64 * MiB)
        let baseline = f.stats
        for count in [1, 2, 3, 5, 8, 13, 16, 100, 512, 1024] {
            let run = try #require(f.allocator.allocateContiguous(frames: count, kind: .other))
            let block = UInt64(1) << UInt64(FrameAllocator<SimulatedPhysicalMemory>.order(covering: count))
            #expect(run.raw % (block * pageSize) == 0, "count \(count)")
            #expect(f.isZero(run, frames: count))
            #expect(f.stats.frames(.other) == count, "the rounded-up tail went back")
            for i in 0 ..< UInt64(count) {
                #expect(f.allowed(run.raw + i * pageSize))
                #expect(f.allocator.referenceCount(of: run + i * pageSize) == 1)
            }
            f.fill(run, frames: count, with: 0x5A)
            f.checkInvariants("count \(count)")
            f.allocator.freeContiguous(run, frames: count)
            #expect(f.stats == baseline)
        }
        // A contiguous run released frame by frame merges back too.
        let run = try #require(f.allocator.allocateContiguous(frames: 1024, kind: .user))
        for i in stride(from: 1023, through: 0, by: -1) { f.allocator.release(run + UInt64(i) * pageSize) }
        #expect(f.stats == baseline)
        #expect(f.violations.isEmpty)
        f.checkInvariants()
    }

    /// Thousands of seeded random operations, checked against a model.
    @Test(arguments: [1 as UInt64, 2, 3])
    func randomOperationsKeepEveryInvariant(seed: UInt64) throws {
        // Holes, an unaligned edge, a reserved region inside usable RAM,
        // overlapping reserved ranges.
        let f = try FrameFixture(size: 48 * MiB, regions: [
            MemoryRegion(start: 0, end: 0x9_F000, kind: .usable),
            MemoryRegion(start: 0x10_0000, end: 0x100_0000, kind: .usable),
            MemoryRegion(start: 0x180_0000, end: 0x1FF_F800, kind: .usable),
            MemoryRegion(start: 0x1C0_0000, end: 0x1C0_1000, kind: .acpiNVS),
            MemoryRegion(start: 0x200_0000, end: 0x300_0000, kind: .usable),
        ], reserved: [0x10_0000 ..< 0x28_0123, 0x20_0000 ..< 0x30_0000, 0x250_0000 ..< 0x251_0000])
        let baseline = f.stats
        let baselineMax = f.allocator.freeBlocks(order: maxOrder)
        var rng = SplitMix64(seed: seed)
        // Model: frame address -> references we hold. Runs: (start, count).
        var refs: [UInt64: UInt32] = [:]
        var singles: [UInt64] = []
        var runs: [(PhysicalAddress, Int)] = []
        let sizes = [2, 3, 4, 7, 16, 33, 64, 1024]

        func take(_ address: UInt64, kind: FrameKind) {
            #expect(f.allowed(address), "handed out a forbidden frame \(address)")
            #expect(refs[address] == nil, "frame \(address) handed out twice")
            #expect(f.allocator.kind(of: PhysicalAddress(address)) == kind)
            refs[address] = 1
        }

        for step in 0 ..< 6000 {
            switch rng.next() % 10 {
            case 0 ... 3:
                if let frame = f.allocator.allocateFrame(kind: .user) {
                    #expect(f.isZero(frame.address, frames: 1))
                    take(frame.address.raw, kind: .user)
                    f.fill(frame.address, frames: 1, with: UInt8(truncatingIfNeeded: step))
                    singles.append(frame.intoRaw().raw)
                }
            case 4:
                let count = sizes[Int(rng.next() % UInt64(sizes.count))]
                if let run = f.allocator.allocateContiguous(frames: count, kind: .kernelStack) {
                    let block = UInt64(1) << UInt64(FrameAllocator<SimulatedPhysicalMemory>.order(covering: count))
                    #expect(run.raw % (block * pageSize) == 0, "run of \(count) misaligned")
                    #expect(f.isZero(run, frames: count))
                    for i in 0 ..< UInt64(count) { take(run.raw + i * pageSize, kind: .kernelStack) }
                    f.fill(run, frames: count, with: 0xEE)
                    runs.append((run, count))
                }
            case 5 ... 7:
                if !singles.isEmpty {
                    let i = Int(rng.next() % UInt64(singles.count))
                    let a = singles[i]
                    let freed = f.allocator.release(PhysicalAddress(a))
                    #expect(freed == (refs[a] == 1))
                    refs[a]! -= 1
                    if refs[a] == 0 { refs[a] = nil; singles.swapAt(i, singles.count - 1); singles.removeLast() }
                }
            case 8:
                if !singles.isEmpty {
                    let a = singles[Int(rng.next() % UInt64(singles.count))]
                    f.allocator.retain(PhysicalAddress(a))
                    refs[a]! += 1
                }
            default:
                if !runs.isEmpty {
                    let i = Int(rng.next() % UInt64(runs.count))
                    let (run, count) = runs[i]
                    f.allocator.freeContiguous(run, frames: count)
                    for j in 0 ..< UInt64(count) { refs[run.raw + j * pageSize] = nil }
                    runs.swapAt(i, runs.count - 1); runs.removeLast()
                }
            }
            let s = f.stats
            #expect(s.frames(.user) + s.frames(.kernelStack) == refs.count)
            #expect(s.freeFrames + refs.count == baseline.freeFrames)
            if step % 250 == 0 { f.checkInvariants("seed \(seed) step \(step)") }
        }
        for (a, n) in refs where f.allocator.referenceCount(of: PhysicalAddress(a)) != n {
            Issue.record("frame \(a): \(f.allocator.referenceCount(of: PhysicalAddress(a))) references, model \(n)")
        }
        // Give everything back: the counts and the largest blocks return.
        for (run, count) in runs {
            f.allocator.freeContiguous(run, frames: count)
            for j in 0 ..< UInt64(count) { refs[run.raw + j * pageSize] = nil }
        }
        for (a, n) in refs { for _ in 0 ..< n { f.allocator.release(PhysicalAddress(a)) } }
        #expect(f.stats == baseline)
        #expect(f.allocator.freeBlocks(order: maxOrder) == baselineMax)
        #expect(f.allocator.allocateContiguous(frames: 1024, kind: .other) != nil)
        #expect(f.violations.isEmpty)
        f.checkInvariants()
    }

    @Test func exhaustionOf256MiBThenEverythingBack() throws {
        let f = try FrameFixture(size: 256 * MiB)
        let baseline = f.stats
        let baselineMax = f.allocator.freeBlocks(order: maxOrder)
        var seen = Set<UInt64>()
        var held: [PhysicalAddress] = []
        while let frame = f.allocator.allocateFrame(kind: .kernelHeap) {
            #expect(seen.insert(frame.address.raw).inserted)
            held.append(frame.intoRaw())
        }
        #expect(held.count == baseline.freeFrames)
        #expect(f.stats.freeFrames == 0)
        #expect(f.allocator.allocateContiguous(frames: 2, kind: .other) == nil)
        #expect(held.allSatisfy { f.allowed($0.raw) })
        f.checkInvariants()
        var rng = SplitMix64(seed: 42)
        held.shuffle(using: &rng)
        for a in held { #expect(f.allocator.release(a)) }
        #expect(f.stats == baseline)
        #expect(f.allocator.freeBlocks(order: maxOrder) == baselineMax)
        f.checkInvariants()
    }

    @Test func contiguousExhaustion() throws {
        let f = try FrameFixture(size: 32 * MiB)
        let baseline = f.stats
        var runs: [PhysicalAddress] = []
        while let run = f.allocator.allocateContiguous(frames: 16, kind: .other) {
            #expect(run.raw % (16 * pageSize) == 0)
            runs.append(run)
        }
        // No free block of 16 frames or more is left (here the free run starts 16-aligned: none at all).
        for order in 4 ... maxOrder { #expect(f.allocator.freeBlocks(order: order) == 0) }
        #expect(f.stats.freeFrames == 0)
        f.checkInvariants()
        for run in runs.reversed() { f.allocator.freeContiguous(run, frames: 16) }
        #expect(f.stats == baseline)
        f.checkInvariants()
    }

    @Test func holesUnalignedEdgesAndOverlaps() throws {
        let regions = [
            MemoryRegion(start: 0, end: 0xA_0000, kind: .usable),                 // below 1 MiB only
            MemoryRegion(start: 0x10_0000, end: 0x40_0000, kind: .usable),
            MemoryRegion(start: 0x30_0000, end: 0x50_0000, kind: .usable),        // overlaps the previous
            MemoryRegion(start: 0x80_0123, end: 0xC0_0FFF, kind: .usable),        // unaligned both ends
            MemoryRegion(start: 0xA0_0800, end: 0xA0_1800, kind: .reserved),     // inside, unaligned
            MemoryRegion(start: 0x100_0000, end: 0x100_0000, kind: .usable),      // empty
            MemoryRegion(start: 0x200_0000, end: 0x240_0000, kind: .defective),
        ]
        let reserved: [Range<UInt64>] = [0x10_0000 ..< 0x18_0000, 0x17_0000 ..< 0x20_0001, 0x90_0000 ..< 0x90_0001]
        let f = try FrameFixture(size: 64 * MiB, regions: regions, reserved: reserved)
        let s = f.stats
        let low = 0xA0                        // frames below 1 MiB
        let first = (0x50_0000 - 0x10_0000) / 0x1000
        let second = (0xC0_0000 - 0x80_1000) / 0x1000 - 2  // minus the two frames the reserved region touches
        #expect(s.totalFrames == low + first + second)
        // Table: frames up to 0xC00 * 32 bytes = 24 pages, at 0x201000 (first free frame past the reserved).
        #expect(f.allocator.metadataRange == 0x20_1000 ..< 0x21_9000)
        #expect(s.frames(.metadata) == 24)
        #expect(s.frames(.reserved) == low + (0x20_1000 - 0x10_0000) / 0x1000 + 1)
        f.checkInvariants()
        var held: [PhysicalAddress] = []
        while let frame = f.allocator.allocateFrame(kind: .other) { held.append(frame.intoRaw()) }
        #expect(held.count == s.freeFrames)
        let forbidden = held.filter { !f.allowed($0.raw) }
        #expect(forbidden.isEmpty, "forbidden frames handed out: \(forbidden.prefix(4).map(\.raw))")
        // Every allowed frame was handed out.
        let allowedCount = stride(from: 0 as UInt64, to: 64 * MiB, by: Int(pageSize)).filter { f.allowed($0) }.count
        #expect(held.count == allowedCount)
        for a in held { f.allocator.release(a) }
        #expect(f.stats == s)
        f.checkInvariants()
    }

    @Test func mapsWithoutRoomAreRejected() throws {
        let memory = SimulatedPhysicalMemory(size: 4 * MiB)
        #expect(throws: FrameAllocatorError.noUsableMemory) {
            _ = try FrameAllocator(memory: memory, regions: [MemoryRegion(start: 0, end: 0x9_F000, kind: .usable)],
                                   reserved: [])
        }
        #expect(throws: FrameAllocatorError.noUsableMemory) {
            _ = try FrameAllocator(memory: memory, regions: [MemoryRegion(start: 0, end: 4 * MiB, kind: .usable)],
                                   reserved: [0 ..< 4 * MiB])
        }
        // Frames up to 4 GiB need a 32 MiB table, and no usable run is that long.
        #expect(throws: FrameAllocatorError.noRoomForMetadata(bytes: 32 * MiB + 32)) {
            _ = try FrameAllocator(memory: memory, regions: [
                MemoryRegion(start: MiB, end: 4 * MiB, kind: .usable),
                MemoryRegion(start: 4 * GiB, end: 4 * GiB + 4 * KiB, kind: .usable),
            ], reserved: [])
        }
    }

    @Test func rangeHelpers() {
        typealias A = FrameAllocator<SimulatedPhysicalMemory>
        #expect(A.subtract([0 ..< 10, 20 ..< 30], 5 ..< 25) == [0 ..< 5, 25 ..< 30])
        #expect(A.subtract([0 ..< 10], 0 ..< 10) == [])
        #expect(A.subtract([0 ..< 10], 3 ..< 3) == [0 ..< 10])
        #expect(A.order(covering: 1) == 0)
        #expect(A.order(covering: 2) == 1)
        #expect(A.order(covering: 3) == 2)
        #expect(A.order(covering: 1024) == 10)
        #expect(A.framesUp(4097) == 2)
        #expect(A.usableFrames([
            MemoryRegion(start: 0x2000, end: 0x5000, kind: .usable),
            MemoryRegion(start: 0x1000, end: 0x3000, kind: .usable),
            MemoryRegion(start: 0x4800, end: 0x4900, kind: .reserved),
        ]) == [1 ..< 4])
    }

    /// A 3 GiB machine with a PCI-style hole; only what is used gets touched.
    @Test func largeMachineWithAHole() throws {
        let f = try FrameFixture(size: 3 * GiB, regions: [
            MemoryRegion(start: 0, end: 0x9_FC00, kind: .usable),
            MemoryRegion(start: MiB, end: 2 * GiB, kind: .usable),
            MemoryRegion(start: 2 * GiB, end: 2 * GiB + 512 * MiB, kind: .reserved),
            MemoryRegion(start: 2 * GiB + 512 * MiB, end: 3 * GiB, kind: .usable),
        ], reserved: [MiB ..< 4 * MiB])
        let s = f.stats
        let usable = 159 + Int((2 * GiB - MiB + 512 * MiB) / pageSize)
        #expect(s.totalFrames == usable)
        #expect(s.frames(.metadata) == Int(3 * GiB / pageSize * UInt64(MemoryLayout<FrameInfo>.stride) / pageSize))
        #expect(f.allocator.freeBlocks(order: maxOrder) > 600)
        f.checkInvariants()
        // Allocation zeroes (touches) memory: take 20 max-order blocks (80 MiB) and singles.
        var runs: [PhysicalAddress] = []
        let hole = 2 * GiB ..< 2 * GiB + 512 * MiB
        for _ in 0 ..< 20 {
            let run = try #require(f.allocator.allocateContiguous(frames: 1, kind: .user))
            runs.append(run)
            let big = try #require(f.allocator.allocateContiguous(frames: 1024, kind: .user))
            #expect(big.raw % (4 * MiB) == 0 && !hole.contains(big.raw))
            runs.append(big)
        }
        #expect(runs.contains { $0.raw >= hole.upperBound })
        #expect(f.stats.frames(.user) == 20 * 1025)
        for (i, run) in runs.enumerated() { f.allocator.freeContiguous(run, frames: i % 2 == 0 ? 1 : 1024) }
        #expect(f.stats == s)
        f.checkInvariants()
    }
}
