// FrameTable: one 16-byte `FrameInfo` per physical frame (Linux's mem_map).
//
// Design:
//  - The table is an array indexed by frame number (physical address >> 12),
//    starting at frame 0, so lookups need no search. Frames in holes of the
//    memory map have entries too; they stay `.reserved` forever.
//  - The table lives in physical memory the frame allocator carved out of
//    usable RAM, and is reached only through `PhysicalMemory.pointer(to:)`,
//    one page at a time (the protocol promises no more than a page), so the
//    same code runs on the host's simulated RAM and on the kernel's direct map.
//  - Entries never straddle a page: 4096 is a multiple of the 16-byte stride.
//
// Invariants (kept by FrameAllocator):
//  - `kind == .free` iff the frame is on no one's books: refCount == 0,
//    mapCount == 0. A free frame is either the head of a free buddy block
//    (`order` = the block's order, linked into that order's free list through
//    next/prev) or inside one (`order == FrameInfo.notHead`).
//  - Every other frame has `order == FrameInfo.notHead` and unused links.
//  - Handed-out kinds (.pageTable, .kernelHeap, ...) have refCount >= 1.
//
// Not thread safe; see FrameAllocator.

/// The metadata of one physical frame. Exactly 16 bytes.
struct FrameInfo {
    /// "No frame" in a free-list link.
    static let none: UInt32 = .max
    /// `order` of any frame that is not the head of a free block.
    static let notHead: UInt8 = .max

    /// Free-list links (frame numbers) of a free block's head frame.
    var next: UInt32
    var prev: UInt32
    /// References held on the frame (page-table entries, OwnedFrames, ...).
    var refCount: UInt32
    /// Page-table entries mapping the frame; maintained by the VM layer.
    var mapCount: UInt16
    var kind: FrameKind
    /// Head of a free block: the block's order. Otherwise `notHead`.
    var order: UInt8

    /// The entry of a frame no one may allocate.
    static var reserved: FrameInfo {
        FrameInfo(next: none, prev: none, refCount: 0, mapCount: 0, kind: .reserved, order: notHead)
    }
}

/// Access to the per-frame table stored at `base` in physical memory.
struct FrameTable<Memory: PhysicalMemory> {
    let memory: Memory
    /// Physical address of entry 0 (page aligned).
    let base: PhysicalAddress
    /// Number of entries: frames 0 ..< frameCount are described.
    let frameCount: UInt32

    /// Bytes of table needed to describe frames 0 ..< frameCount.
    static func bytes(frameCount: UInt64) -> UInt64 {
        frameCount * UInt64(MemoryLayout<FrameInfo>.stride)
    }

    /// Binds the table's pages at `base` and fills every entry with
    /// `FrameInfo.reserved`. The caller owns [base, base + bytes(frameCount)).
    init(memory: Memory, base: PhysicalAddress, frameCount: UInt32) {
        precondition(MemoryLayout<FrameInfo>.stride == 16 && base.isPageAligned)
        self.memory = memory
        self.base = base
        self.frameCount = frameCount
        let perPage = Int(pageSize) / MemoryLayout<FrameInfo>.stride
        var first: UInt64 = 0
        var page = base
        while first < UInt64(frameCount) {
            let count = Int(min(UInt64(perPage), UInt64(frameCount) - first))
            let entries = memory.pointer(to: page).bindMemory(to: FrameInfo.self, capacity: perPage)
            entries.initialize(repeating: .reserved, count: count)
            first += UInt64(perPage)
            page = page + pageSize
        }
    }

    /// The entry of `frame`. Requires frame < frameCount.
    @inline(__always)
    func entry(_ frame: UInt32) -> UnsafeMutablePointer<FrameInfo> {
        let offset = UInt64(frame) &* UInt64(MemoryLayout<FrameInfo>.stride)
        let page = memory.pointer(to: PhysicalAddress(base.raw &+ (offset & ~(pageSize - 1))))
        return (page + Int(offset & (pageSize - 1))).assumingMemoryBound(to: FrameInfo.self)
    }
}
