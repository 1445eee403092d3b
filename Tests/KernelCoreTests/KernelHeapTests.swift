import Testing
@testable import KernelCore

/// Backs heap pages with real host memory (the window is reserved up front)
/// and counts commits, so tests see memory go back.
struct CountingBacking: HeapBacking {
    var committed = Set<UInt64>()
    var failAfter: Int? = nil

    mutating func commit(page address: UInt64) -> Bool {
        if let n = failAfter { if n == 0 { return false }; failAfter = n - 1 }
        #expect(!committed.contains(address), "page committed twice")
        committed.insert(address)
        return true
    }
    mutating func decommit(page address: UInt64) {
        #expect(committed.remove(address) != nil, "decommit of a page that was not committed")
    }
}

final class HeapFixture {
    let window: UnsafeMutableRawPointer
    let metadata: UnsafeMutableRawPointer
    var heap: KernelHeap<CountingBacking>

    init(pages: Int, permanent: Int) {
        window = UnsafeMutableRawPointer.allocate(byteCount: pages * 4096, alignment: 4096)
        metadata = UnsafeMutableRawPointer.allocate(
            byteCount: KernelHeap<CountingBacking>.metadataBytes(pageCount: pages), alignment: 16)
        heap = KernelHeap(base: UInt64(UInt(bitPattern: window)), pageCount: pages,
                          permanentPages: permanent, metadata: metadata, backing: CountingBacking())
    }
    deinit { window.deallocate(); metadata.deallocate() }

    func allocate(size: Int, alignment: Int = 16) -> UnsafeMutableRawPointer? {
        heap.allocate(size: size, alignment: alignment)
    }
    func free(_ pointer: UnsafeMutableRawPointer) -> Bool { heap.free(pointer) }
}

@Suite struct KernelHeapTests {
    @Test func blocksAreAlignedToTheirSizeClass() throws {
        let f = HeapFixture(pages: 64, permanent: 0)
        for size in [1, 15, 16, 17, 100, 1000, 2048] {
            let p = try #require(f.allocate(size: size, alignment: 8))
            let block = KernelHeap<CountingBacking>.blockSize(
                classIndex: KernelHeap<CountingBacking>.classIndex(for: size))
            #expect(UInt(bitPattern: p) % UInt(block) == 0)
        }
        let aligned = try #require(f.allocate(size: 8, alignment: 256))
        #expect(UInt(bitPattern: aligned) % 256 == 0)
    }

    @Test func largeAllocationsTakeWholePagesAndGiveThemBack() throws {
        let f = HeapFixture(pages: 64, permanent: 0)
        let p = try #require(f.allocate(size: 3 * 4096 + 1, alignment: 16))
        #expect(f.heap.backing.committed.count == 4)
        #expect(f.heap.bytesInUse == 4 * 4096)
        #expect(f.free(p))
        #expect(f.heap.backing.committed.isEmpty)
        #expect(f.heap.bytesInUse == 0)
    }

    @Test func randomAllocationsNeverOverlapAndAllMemoryComesBack() throws {
        let f = HeapFixture(pages: 512, permanent: 8)
        var rng = SystemRandomNumberGenerator()
        var live: [(UnsafeMutableRawPointer, Int, UInt8)] = []
        for step in 0..<5000 {
            if live.isEmpty || (live.count < 300 && Bool.random(using: &rng)) {
                let size = Bool.random() ? Int.random(in: 1...2048, using: &rng) : Int.random(in: 1...20000, using: &rng)
                let p = try #require(f.allocate(size: size, alignment: 16), "step \(step)")
                let tag = UInt8(truncatingIfNeeded: step)
                p.initializeMemory(as: UInt8.self, repeating: tag, count: size)
                live.append((p, size, tag))
            } else {
                let (p, size, tag) = live.remove(at: Int.random(in: 0..<live.count, using: &rng))
                // Every byte is still ours: nothing else was handed the same memory.
                let intact = (0..<size).allSatisfy { p.load(fromByteOffset: $0, as: UInt8.self) == tag }
                #expect(intact, "block of \(size) bytes was overwritten")
                #expect(f.free(p))
            }
        }
        for (p, _, _) in live { #expect(f.free(p)) }
        #expect(f.heap.bytesInUse == 0)
        #expect(f.heap.backing.committed.isEmpty)
        #expect(f.heap.committedPages == 8)
    }

    @Test func rejectsBadFrees() throws {
        let f = HeapFixture(pages: 16, permanent: 0)
        let p = try #require(f.allocate(size: 64, alignment: 16))
        #expect(!f.free(p + 8))
        #expect(f.heap.lastFailure == .misalignedFree(UInt64(UInt(bitPattern: p + 8))))
        #expect(!f.free(p + 64))  // never handed out
        #expect(f.heap.lastFailure == .freeOfUnusedMemory(UInt64(UInt(bitPattern: p + 64))))
        var outside = 0
        #expect(!withUnsafeMutablePointer(to: &outside) { f.free(UnsafeMutableRawPointer($0)) })
        #expect(f.free(p))
        #expect(!f.free(p))  // its page went back: a double free is caught
    }

    @Test func outOfMemoryLeavesNothingCommitted() {
        let f = HeapFixture(pages: 16, permanent: 0)
        f.heap.backing.failAfter = 2
        #expect(f.allocate(size: 4 * 4096, alignment: 16) == nil)
        #expect(f.heap.lastFailure == .outOfMemory)
        #expect(f.heap.backing.committed.isEmpty)
        #expect(f.heap.committedPages == 0)
    }
}
