// FrameTable: one 32-byte `FrameInfo` per physical frame (Linux's mem_map).
//
// Design:
//  - The table is an array indexed by frame number (physical address >> 12),
//    starting at frame 0, so lookups need no search. Frames in holes of the
//    memory map have entries too; they stay `.reserved` forever.
//  - The table lives in physical memory the frame allocator carved out of
//    usable RAM, and is reached only through `PhysicalMemory.pointer(to:)`,
//    one page at a time (the protocol promises no more than a page), so the
//    same code runs on the host's simulated RAM and on the kernel's direct map.
//  - Entries never straddle a page: 4096 is a multiple of the 32-byte stride.
//
// Invariants (kept by FrameAllocator):
//  - `kind == .free` iff the frame is on no one's books: refCount == 0,
//    mapCount == 0. A free frame is either the head of a free buddy block
//    (`order` = the block's order, linked into that order's free list through
//    next/prev) or inside one (`order == FrameInfo.notHead`).
//  - Every other frame has `order == FrameInfo.notHead`; its link word holds
//    the reverse-map owner instead (0 when none, see `owner`).
//  - Handed-out kinds (.pageTable, .kernelHeap, ...) have refCount >= 1.
//  - mapCount <= refCount for a handed-out frame: every page-table entry
//    that maps a frame holds one of its references (Linux: a mapcount is
//    always paired with a reference).
//
// Not thread safe; see FrameAllocator.

/// Per-frame flags (Linux page flags).
public struct FrameFlags: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Linux PageAnonExclusive: this anonymous frame is mapped by exactly one
    /// private mapping, so a write fault may reuse it in place. Set when a
    /// page is known to be mapped once (a new fault, a copy, a reuse),
    /// cleared when fork shares it.
    public static let anonExclusive = FrameFlags(rawValue: 1 << 0)
    /// Linux PageAnon (folio_test_anon): a private page made by a fault (a
    /// zero fill, a copy). Set with the first exclusive mark and kept for
    /// the frame's life; the RSS counters count it as anonymous.
    public static let anonymous = FrameFlags(rawValue: 1 << 1)
    /// A page of a shared memory object (Linux: a shmem folio); the RSS
    /// counters count it as shared. Frames with neither mark, other than
    /// the zero page, are file pages.
    public static let sharedMemory = FrameFlags(rawValue: 1 << 2)
}

/// The metadata of one physical frame. Exactly 32 bytes.
struct FrameInfo {
    /// "No frame" in a free-list link.
    static let none: UInt32 = .max
    /// `order` of any frame that is not the head of a free block.
    static let notHead: UInt8 = .max

    /// A free block head: its free-list links (next frame number in the low
    /// half, previous in the high half). A handed-out frame: the reverse-map
    /// owner (`owner`). A frame is never both, so they share the word.
    var links: UInt64
    /// The reverse-map index: the frame's page index in its owner.
    var index: UInt64
    /// References held on the frame (page-table entries, OwnedFrames, ...).
    var refCount: UInt32
    /// Page-table entries mapping the frame. Maintained by the page-table
    /// cursor alone (PageTableCursor.swift): +1 after an owning leaf is
    /// written, -1 before its reference is handed back.
    var mapCount: UInt32
    var kind: FrameKind
    /// Head of a free block: the block's order. Otherwise `notHead`.
    var order: UInt8
    var flags: FrameFlags
    private var reserved: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)

    init(next: UInt32, prev: UInt32, refCount: UInt32, mapCount: UInt32, kind: FrameKind, order: UInt8) {
        links = UInt64(next) | UInt64(prev) << 32
        index = 0
        self.refCount = refCount
        self.mapCount = mapCount
        self.kind = kind
        self.order = order
        flags = []
    }

    /// Free-list links (frame numbers) of a free block's head frame.
    var next: UInt32 {
        get { UInt32(truncatingIfNeeded: links) }
        set { links = (links & ~0xFFFF_FFFF) | UInt64(newValue) }
    }
    var prev: UInt32 {
        get { UInt32(truncatingIfNeeded: links >> 32) }
        set { links = (links & 0xFFFF_FFFF) | UInt64(newValue) << 32 }
    }
    /// The reverse-map owner of a handed-out frame: the identity of the
    /// object whose page `index` it is (an AnonLineage or a SharedMemory),
    /// 0 for none. An identity only, never dereferenced.
    var owner: UInt64 {
        get { links }
        set { links = newValue }
    }

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
        precondition(MemoryLayout<FrameInfo>.stride == 32 && base.isPageAligned)
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
