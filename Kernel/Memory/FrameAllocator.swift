// FrameAllocator: the physical frame allocator, a binary buddy system.
//
// Design:
//  - Memory is managed in blocks of 2^order frames, order 0 ... maxOrder
//    (10: 4 MiB). A block of order k starts at a frame number that is a
//    multiple of 2^k; its buddy is the block at (frame XOR 2^k). One
//    doubly-linked free list per order, threaded through the per-frame table
//    (FrameTable.swift), so allocating and freeing cost O(maxOrder) and touch
//    no Swift heap.
//  - Allocate(order k): take a block from the smallest non-empty order >= k,
//    split it, putting the upper halves on the lower lists.
//  - Free: while the buddy is a free block head of the same order, unlink it
//    and merge. So two free buddies of the same order below maxOrder never
//    both exist, and freeing everything restores the largest blocks.
//  - Blocks are only the free side. A handed-out frame is an independent unit
//    with its own reference count: a contiguous run is allocated as one
//    naturally aligned block (its count rounded up to a power of two, the
//    unused tail freed at once), and its frames are released one by one or
//    together; the merging puts the block back together either way.
//  - Built from the multiboot2 memory map: usable regions, page-aligned
//    inwards, minus every part another region claims, minus frames below
//    `lowestAllocatable` (the low 1 MiB by default) and the caller's
//    reserved ranges (kernel image, multiboot info, modules), page-aligned
//    outwards. RAM from frame 2^32 - 1 up (16 TiB) is ignored: frame numbers
//    are UInt32. Holes cost only their table entries (32 bytes per 4 KiB).
//  - The per-frame table is carved from the first allocatable run large
//    enough (kind `.metadata`); it covers frames 0 up to the end of usable RAM.
//
// Invariants (checked by `verifyInvariants`, which the host tests call):
//  - Every free frame lies in exactly one free block; each free block is
//    aligned to its size, its head is on the list of its order and only there.
//  - No two buddies below maxOrder are both free blocks of the same order.
//  - A handed-out frame has refCount >= 1 and mapCount <= refCount (each
//    mapping holds a reference); its last reference cannot be dropped while
//    mapCount > 0 (that would free a mapped frame).
//  - The per-kind counters equal what the table says.
//
// Statistics: `totalFrames` counts every usable frame of the memory map; each
// is in exactly one kind (.free, .reserved = usable but withheld, .metadata,
// or a handed-out kind), so the per-kind counts add up to the total.
//
// Misuse (double free, release of a reserved frame, retain of a free frame,
// count over/underflow, ...) changes nothing: it is counted, kept in
// `lastViolation`, and passed to `violationHandler` (the kernel panics).
//
// Not thread safe: the kernel calls it on one CPU with interrupts off.

/// What a caller did wrong, reported by the frame allocator.
public struct FrameViolation: Equatable {
    public enum Operation: UInt8 {
        case allocate, retain, release, freeContiguous, incrementMapCount, decrementMapCount
        public var name: StaticString {
            switch self {
            case .allocate: return "allocate"
            case .retain: return "retain"
            case .release: return "release"
            case .freeContiguous: return "freeContiguous"
            case .incrementMapCount: return "incrementMapCount"
            case .decrementMapCount: return "decrementMapCount"
            }
        }
    }
    public enum Problem: UInt8 {
        /// The frame is free: a double free, a refcount underflow, or a use after free.
        case frameIsFree
        /// Reserved, metadata, a hole in the memory map, or beyond RAM.
        case frameNotAllocatable
        case notPageAligned
        case countOverflow
        case countUnderflow
        /// The last reference was released while page tables still map it.
        case frameStillMapped
        /// A kind that cannot be allocated, or a frame count out of range.
        case invalidArgument
        public var name: StaticString {
            switch self {
            case .frameIsFree: return "frame is free (double free?)"
            case .frameNotAllocatable: return "frame is not allocatable memory"
            case .notPageAligned: return "address is not page aligned"
            case .countOverflow: return "count overflow"
            case .countUnderflow: return "count underflow"
            case .frameStillMapped: return "frame is still mapped"
            case .invalidArgument: return "invalid argument"
            }
        }
    }
    public let operation: Operation
    public let problem: Problem
    public let address: PhysicalAddress

    public init(_ operation: Operation, _ problem: Problem, _ address: PhysicalAddress) {
        self.operation = operation
        self.problem = problem
        self.address = address
    }
}

public enum FrameAllocatorError: Error, Equatable {
    /// The memory map has no allocatable frame.
    case noUsableMemory
    /// No allocatable run is large enough for the per-frame table.
    case noRoomForMetadata(bytes: UInt64)
}

/// A snapshot of the allocator's counters.
public struct FrameStatistics: Equatable {
    /// Usable frames in the memory map.
    public let totalFrames: Int
    /// Frames per kind, indexed by `FrameKind.rawValue`; they add up to `totalFrames`.
    public let framesByKind: [Int]

    public var freeFrames: Int { framesByKind[Int(FrameKind.free.rawValue)] }
    /// Frames of `kind`: `.free`, `.reserved` (usable but withheld), `.metadata`, or handed out.
    public func frames(_ kind: FrameKind) -> Int { framesByKind[Int(kind.rawValue)] }
}

extension FrameKind {
    /// True for the kinds a caller may allocate, retain and release.
    var isHandedOut: Bool { self != .free && self != .reserved && self != .metadata }
    /// Frames processes cause the kernel to allocate without bound (their
    /// pages, their kernel stacks); they may not dig into the kernel reserve.
    var isForProcesses: Bool { self == .user || self == .kernelStack }
}

public final class FrameAllocator<Memory: PhysicalMemory>: FrameProvider {
    /// The largest block: 2^maxOrder frames (4 MiB).
    public static var maxOrder: Int { 10 }

    // The hot-path state is in `let`s and raw buffers (allocated once, in
    // init): no exclusivity checks, no copy-on-write, no reference counting.
    private let table: FrameTable<Memory>
    /// Physical range of the per-frame table.
    public let metadataRange: Range<UInt64>
    /// Per order 0 ... maxOrder: first frame of the free list, or FrameInfo.none.
    private let freeHeads: UnsafeMutablePointer<UInt32>
    public let totalFrames: Int
    /// Frames per kind, by FrameKind.rawValue.
    private let frameCounts: UnsafeMutablePointer<Int>

    /// How many violations were reported, and the latest one.
    public private(set) var violationCount = 0
    public private(set) var lastViolation: FrameViolation? = nil
    /// Called for every violation, after it is recorded (the kernel panics here).
    public var violationHandler: ((FrameViolation) -> Void)? = nil
    /// Free frames kept back for the kernel itself (heap growth and its page
    /// tables). Allocations of a process kind (`.user`, `.kernelStack`) fail
    /// once only this many frames are free, so a process that exhausts
    /// memory gets -ENOMEM while the kernel can still allocate what handling
    /// that takes (Linux keeps min_free_kbytes for the same reason).
    public var kernelReserve = 0

    // MARK: Construction

    /// Builds the allocator over the `.usable` parts of `regions`, leaving out
    /// frames below `lowestAllocatable` and any frame touching `reserved`.
    /// The per-frame table is written through `memory`. Throws when nothing is
    /// allocatable or no run of free frames can hold the table.
    public init(memory: Memory, regions: [MemoryRegion], reserved: [Range<UInt64>],
                lowestAllocatable: UInt64 = 1 << 20) throws(FrameAllocatorError) {
        let usable = Self.usableFrames(regions)
        var allocatable = usable
        allocatable = Self.subtract(allocatable, 0 ..< Self.framesUp(lowestAllocatable))
        for range in reserved where !range.isEmpty {
            allocatable = Self.subtract(allocatable, range.lowerBound >> pageShift ..< Self.framesUp(range.upperBound))
        }
        guard let last = usable.last, !allocatable.isEmpty else { throw .noUsableMemory }

        // Carve the table from the first allocatable run that holds it.
        let tableBytes = FrameTable<Memory>.bytes(frameCount: last.upperBound)
        let tableFrames = Self.framesUp(tableBytes)
        guard let home = allocatable.firstIndex(where: { UInt64($0.count) >= tableFrames }) else {
            throw .noRoomForMetadata(bytes: tableBytes)
        }
        let tableStart = allocatable[home].lowerBound
        allocatable = Self.subtract(allocatable, tableStart ..< tableStart + tableFrames)
        metadataRange = (tableStart << pageShift) ..< ((tableStart + tableFrames) << pageShift)
        table = FrameTable(memory: memory, base: PhysicalAddress(tableStart << pageShift),
                           frameCount: UInt32(last.upperBound))

        freeHeads = .allocate(capacity: Self.maxOrder + 1)
        freeHeads.initialize(repeating: FrameInfo.none, count: Self.maxOrder + 1)
        frameCounts = .allocate(capacity: FrameKind.allCases.count)
        frameCounts.initialize(repeating: 0, count: FrameKind.allCases.count)
        totalFrames = usable.reduce(0) { $0 + $1.count }
        for frame in tableStart ..< tableStart + tableFrames {
            table.entry(UInt32(frame)).pointee.kind = .metadata
        }
        frameCounts[Int(FrameKind.metadata.rawValue)] = Int(tableFrames)
        var freed = 0
        for range in allocatable {
            freeRun(UInt32(range.lowerBound), count: UInt32(range.count))
            freed += range.count
        }
        frameCounts[Int(FrameKind.reserved.rawValue)] = totalFrames - freed - Int(tableFrames)
    }

    deinit {
        freeHeads.deallocate()
        frameCounts.deallocate()
    }

    /// Frame numbers of the usable RAM in `regions`: page-aligned inwards,
    /// minus anything another region claims (page-aligned outwards), capped
    /// below frame 2^32 - 1; sorted, disjoint and coalesced.
    static func usableFrames(_ regions: [MemoryRegion]) -> [Range<UInt64>] {
        let limit = UInt64(FrameInfo.none)
        var ranges: [Range<UInt64>] = []
        for region in regions where region.kind == .usable && region.end > region.start {
            let first = min(framesUp(region.start), limit)
            let end = min(region.end >> pageShift, limit)
            if first < end { ranges.append(first ..< end) }
        }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<UInt64>] = []
        for range in ranges {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound ..< max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        for region in regions where region.kind != .usable && region.end > region.start {
            merged = subtract(merged, region.start >> pageShift ..< framesUp(region.end))
        }
        return merged
    }

    /// `ranges` (sorted, disjoint) without the frames in `hole`.
    static func subtract(_ ranges: [Range<UInt64>], _ hole: Range<UInt64>) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        for range in ranges {
            if hole.isEmpty || range.upperBound <= hole.lowerBound || range.lowerBound >= hole.upperBound {
                result.append(range)
                continue
            }
            if range.lowerBound < hole.lowerBound { result.append(range.lowerBound ..< hole.lowerBound) }
            if range.upperBound > hole.upperBound { result.append(hole.upperBound ..< range.upperBound) }
        }
        return result
    }

    /// Frames needed to cover `bytes` bytes (saturating near 2^64).
    static func framesUp(_ bytes: UInt64) -> UInt64 {
        (bytes >> pageShift) + (bytes & (pageSize - 1) == 0 ? 0 : 1)
    }

    // MARK: Public interface

    /// A zeroed frame of `kind` with a reference count of 1, or nil when out of memory.
    public func allocateFrame(kind: FrameKind) -> OwnedFrame? {
        guard let frame = allocateFrameForOverwrite(kind: kind) else { return nil }
        table.memory.pointer(to: frame.address).initializeMemory(as: UInt8.self, repeating: 0, count: Int(pageSize))
        return frame
    }

    /// A frame of `kind` with a reference count of 1 and stale contents
    /// (FrameProvider.allocateFrameForOverwrite), or nil when out of memory.
    public func allocateFrameForOverwrite(kind: FrameKind) -> OwnedFrame? {
        guard kind.isHandedOut else { report(.allocate, .invalidArgument, PhysicalAddress(0)); return nil }
        if kind.isForProcesses && freeFrameCount <= kernelReserve { return nil }
        guard let frame = allocateBlock(order: 0) else { return nil }
        markAllocated(frame, kind: kind)
        return OwnedFrame(adopting: Self.address(of: frame))
    }

    /// Drops the reference `frame` stands for; the frame is freed when it was the last.
    public func releaseFrame(_ frame: consuming OwnedFrame) {
        release(frame.intoRaw())
    }

    /// `count` (1 ... 2^maxOrder) physically contiguous zeroed frames of `kind`,
    /// each with a reference count of 1, starting at a multiple of `count`
    /// rounded up to a power of two; nil when no such run is free.
    public func allocateContiguous(frames count: Int, kind: FrameKind) -> PhysicalAddress? {
        guard kind.isHandedOut, count >= 1, count <= 1 << Self.maxOrder else {
            report(.allocate, .invalidArgument, PhysicalAddress(0)); return nil
        }
        let order = Self.order(covering: count)
        guard let first = allocateBlock(order: order) else { return nil }
        for frame in first ..< first + UInt32(count) {
            markAllocated(frame, kind: kind)
            table.memory.pointer(to: Self.address(of: frame))
                .initializeMemory(as: UInt8.self, repeating: 0, count: Int(pageSize))
        }
        freeRun(first + UInt32(count), count: UInt32((1 << order) - count))
        return Self.address(of: first)
    }

    /// Drops one reference on each of the `count` frames from `address` (what
    /// `allocateContiguous` returned). Nothing changes if any frame could not
    /// be released.
    public func freeContiguous(_ address: PhysicalAddress, frames count: Int) {
        guard count >= 1, count <= Int(table.frameCount) else {
            report(.freeContiguous, .invalidArgument, address); return
        }
        guard let first = checkedFrame(address, .freeContiguous) else { return }
        guard UInt64(first) + UInt64(count) <= UInt64(table.frameCount) else {
            report(.freeContiguous, .frameNotAllocatable, address); return
        }
        var allLast = true
        for frame in first ..< first + UInt32(count) {
            guard canDropReference(frame, .freeContiguous) else { return }
            allLast = allLast && table.entry(frame).pointee.refCount == 1
        }
        let order = Self.order(covering: count)
        if allLast && count == 1 << order && first & UInt32(count - 1) == 0 {
            // Fast path: the whole aligned block goes back at once.
            for frame in first ..< first + UInt32(count) {
                frameCounts[Int(table.entry(frame).pointee.kind.rawValue)] -= 1
            }
            freeBlock(first, order: order)
            return
        }
        for frame in first ..< first + UInt32(count) { dropReference(frame) }
    }

    /// Adds a reference to the handed-out frame at `address` (a COW share).
    public func retain(_ address: PhysicalAddress) {
        guard let frame = checkedFrame(address, .retain) else { return }
        let info = table.entry(frame)
        guard checkHandedOut(info.pointee.kind, .retain, address) else { return }
        guard info.pointee.refCount < UInt32.max else { report(.retain, .countOverflow, address); return }
        info.pointee.refCount += 1
    }

    /// One more reference to the handed-out frame at `address`, as an
    /// OwnedFrame (FrameProvider.shareFrame).
    public func shareFrame(at address: PhysicalAddress) -> OwnedFrame {
        retain(address)
        return OwnedFrame(adopting: address)
    }

    /// Drops a reference to the frame at `address`; returns true if that freed
    /// the frame. A frame that is free, not allocatable, or still mapped when
    /// its last reference goes is reported and left alone (returns false).
    @discardableResult
    public func release(_ address: PhysicalAddress) -> Bool {
        guard let frame = checkedFrame(address, .release), canDropReference(frame, .release) else { return false }
        return dropReference(frame)
    }

    /// References held on the frame at `address`; 0 for a free or unmanaged frame.
    public func referenceCount(of address: PhysicalAddress) -> UInt32 {
        guard let frame = frameNumber(address) else { return 0 }
        return table.entry(frame).pointee.refCount
    }

    /// What the frame at `address` is used for; `.reserved` outside managed RAM.
    public func kind(of address: PhysicalAddress) -> FrameKind {
        guard let frame = frameNumber(address) else { return .reserved }
        return table.entry(frame).pointee.kind
    }

    /// Page-table entries mapping the frame at `address`; 0 for a free or unmanaged frame.
    public func mapCount(of address: PhysicalAddress) -> UInt32 {
        guard let frame = frameNumber(address) else { return 0 }
        return table.entry(frame).pointee.mapCount
    }

    /// Records one more page-table entry mapping the handed-out frame at
    /// `address`. A map count may not exceed the references (each leaf
    /// holds one), so it cannot overflow before the reference count does.
    public func incrementMapCount(_ address: PhysicalAddress) {
        guard let frame = checkedFrame(address, .incrementMapCount) else { return }
        let info = table.entry(frame)
        guard checkHandedOut(info.pointee.kind, .incrementMapCount, address) else { return }
        guard info.pointee.mapCount < info.pointee.refCount else {
            report(.incrementMapCount, .countOverflow, address); return
        }
        info.pointee.mapCount += 1
    }

    /// Records one page-table entry fewer mapping the frame at `address`.
    public func decrementMapCount(_ address: PhysicalAddress) {
        guard let frame = checkedFrame(address, .decrementMapCount) else { return }
        let info = table.entry(frame)
        guard checkHandedOut(info.pointee.kind, .decrementMapCount, address) else { return }
        guard info.pointee.mapCount > 0 else { report(.decrementMapCount, .countUnderflow, address); return }
        info.pointee.mapCount -= 1
    }

    /// FrameProvider.duplicateLeafReference: one lookup and one check for
    /// what retain + incrementMapCount + setFlags would each look up and
    /// check (fork runs it for every resident page).
    public func duplicateLeafReference(_ address: PhysicalAddress, clearing: FrameFlags) {
        guard let frame = checkedFrame(address, .retain) else { return }
        let info = table.entry(frame)
        guard checkHandedOut(info.pointee.kind, .retain, address) else { return }
        guard info.pointee.refCount < UInt32.max else { report(.retain, .countOverflow, address); return }
        // mapCount <= refCount before, so it stays below the new refCount.
        info.pointee.refCount += 1
        info.pointee.mapCount += 1
        info.pointee.flags.subtract(clearing)
    }

    /// FrameProvider.releaseLeafReference: decrementMapCount, then release,
    /// with one lookup (unmap and teardown run it for every resident page).
    public func releaseLeafReference(_ address: PhysicalAddress) {
        guard let frame = checkedFrame(address, .decrementMapCount) else { return }
        let info = table.entry(frame)
        guard checkHandedOut(info.pointee.kind, .decrementMapCount, address) else { return }
        guard info.pointee.mapCount > 0 else { report(.decrementMapCount, .countUnderflow, address); return }
        info.pointee.mapCount -= 1
        guard canDropReference(frame, .release) else { return }
        dropReference(frame)
    }

    /// The flags of the frame at `address` (none outside managed RAM).
    public func flags(of address: PhysicalAddress) -> FrameFlags {
        guard let frame = frameNumber(address) else { return [] }
        return table.entry(frame).pointee.flags
    }

    /// Sets the flags of the handed-out frame at `address`.
    public func setFlags(_ flags: FrameFlags, of address: PhysicalAddress) {
        guard let frame = frameNumber(address), table.entry(frame).pointee.kind.isHandedOut else { return }
        table.entry(frame).pointee.flags = flags
    }

    /// The reverse-map owner and index of the frame at `address`.
    public func reverseMapping(of address: PhysicalAddress) -> (owner: UInt64, index: UInt64) {
        guard let frame = frameNumber(address), table.entry(frame).pointee.kind.isHandedOut else { return (0, 0) }
        let info = table.entry(frame).pointee
        return (info.owner, info.index)
    }

    /// Records the reverse-map owner and index of the handed-out frame at `address`.
    public func setReverseMapping(of address: PhysicalAddress, owner: UInt64, index: UInt64) {
        guard let frame = frameNumber(address), table.entry(frame).pointee.kind.isHandedOut else { return }
        table.entry(frame).pointee.owner = owner
        table.entry(frame).pointee.index = index
    }

    /// The shared zero frame, allocated at the first use and held forever.
    /// Kernel: touched during boot, before the frame baseline is taken.
    public var zeroFrame: PhysicalAddress {
        if let zeroFrameAddress { return zeroFrameAddress }
        guard let frame = allocateFrame(kind: .user) else { fatalError("no frame for the zero page") }
        let address = frame.intoRaw()
        zeroFrameAddress = address
        return address
    }
    private var zeroFrameAddress: PhysicalAddress? = nil

    private var freeFrameCount: Int { frameCounts[Int(FrameKind.free.rawValue)] }

    /// The counters now.
    public var statistics: FrameStatistics {
        FrameStatistics(totalFrames: totalFrames,
                        framesByKind: Array(UnsafeBufferPointer(start: frameCounts, count: FrameKind.allCases.count)))
    }

    /// Free blocks of `order` (walks that free list: for diagnostics and tests).
    public func freeBlocks(order: Int) -> Int {
        var count = 0
        var frame = freeHeads[order]
        while frame != FrameInfo.none { count += 1; frame = table.entry(frame).pointee.next }
        return count
    }

    // MARK: Checks
    // Inlined: every reference and map-count change runs them (a fork
    // several per resident page); only `report`, the cold path, is a call.

    /// The frame number of `address` if it is page aligned and described by the table.
    @inline(__always)
    private func frameNumber(_ address: PhysicalAddress) -> UInt32? {
        guard address.isPageAligned, address.frameNumber < UInt64(table.frameCount) else { return nil }
        return UInt32(address.frameNumber)
    }

    /// Like frameNumber, but reports why `operation` cannot use `address`.
    @inline(__always)
    private func checkedFrame(_ address: PhysicalAddress, _ operation: FrameViolation.Operation) -> UInt32? {
        guard address.isPageAligned else { report(operation, .notPageAligned, address); return nil }
        guard let frame = frameNumber(address) else { report(operation, .frameNotAllocatable, address); return nil }
        return frame
    }

    /// True if `kind` is a handed-out kind; reports otherwise.
    @inline(__always)
    private func checkHandedOut(_ kind: FrameKind, _ operation: FrameViolation.Operation,
                                _ address: PhysicalAddress) -> Bool {
        if kind.isHandedOut { return true }
        report(operation, kind == .free ? .frameIsFree : .frameNotAllocatable, address)
        return false
    }

    /// True if one reference on `frame` may be dropped; reports otherwise.
    @inline(__always)
    private func canDropReference(_ frame: UInt32, _ operation: FrameViolation.Operation) -> Bool {
        let info = table.entry(frame).pointee
        let address = Self.address(of: frame)
        guard checkHandedOut(info.kind, operation, address) else { return false }
        guard info.refCount > 0 else { report(operation, .countUnderflow, address); return false }
        guard info.refCount > 1 || info.mapCount == 0 else { report(operation, .frameStillMapped, address); return false }
        return true
    }

    /// Records a violation and tells the handler. Changes nothing else.
    @inline(never)
    private func report(_ operation: FrameViolation.Operation, _ problem: FrameViolation.Problem,
                        _ address: PhysicalAddress) {
        let violation = FrameViolation(operation, problem, address)
        violationCount += 1
        lastViolation = violation
        violationHandler?(violation)
    }

    // MARK: Buddy system

    /// The address of frame number `frame`.
    private static func address(of frame: UInt32) -> PhysicalAddress {
        PhysicalAddress(UInt64(frame) << pageShift)
    }

    /// The smallest order whose block holds `count` >= 1 frames.
    static func order(covering count: Int) -> Int {
        count <= 1 ? 0 : Int.bitWidth - (count - 1).leadingZeroBitCount
    }

    /// Drops one reference on the handed-out `frame` (already checked by
    /// canDropReference), freeing it at zero. Returns true if freed.
    @discardableResult
    private func dropReference(_ frame: UInt32) -> Bool {
        let info = table.entry(frame)
        info.pointee.refCount -= 1
        guard info.pointee.refCount == 0 else { return false }
        frameCounts[Int(info.pointee.kind.rawValue)] -= 1
        freeBlock(frame, order: 0)
        return true
    }

    /// Hands out `frame` (taken from a free block) as `kind` with one reference.
    private func markAllocated(_ frame: UInt32, kind: FrameKind) {
        table.entry(frame).pointee = FrameInfo(next: FrameInfo.none, prev: FrameInfo.none, refCount: 1,
                                              mapCount: 0, kind: kind, order: FrameInfo.notHead)
        frameCounts[Int(kind.rawValue)] += 1
    }

    /// Frees the run of `count` frames from `first` (not free, not counted in
    /// any kind any more) as the largest aligned blocks that fit.
    private func freeRun(_ first: UInt32, count: UInt32) {
        var frame = UInt64(first)
        let end = frame + UInt64(count)
        while frame < end {
            var order = min(Self.maxOrder, frame == 0 ? Self.maxOrder : frame.trailingZeroBitCount)
            while frame + (1 << UInt64(order)) > end { order -= 1 }
            freeBlock(UInt32(frame), order: order)
            frame += 1 << UInt64(order)
        }
    }

    /// Takes a free block of `order` (splitting a larger one if needed) off the
    /// free lists and returns its first frame, or nil if none is large enough.
    /// Its frames are still marked free; the caller marks them allocated.
    private func allocateBlock(order: Int) -> UInt32? {
        var current = order
        while freeHeads[current] == FrameInfo.none {
            current += 1
            if current > Self.maxOrder { return nil }
        }
        let first = freeHeads[current]
        unlink(first, order: current)
        table.entry(first).pointee.order = FrameInfo.notHead
        while current > order {
            current -= 1
            push(first + (1 << UInt32(current)), order: current)
        }
        frameCounts[Int(FrameKind.free.rawValue)] -= 1 << order
        return first
    }

    /// Marks the aligned block of `order` at `first` free and merges it with
    /// its free buddies. Its frames must not be free or counted in any kind.
    private func freeBlock(_ first: UInt32, order: Int) {
        for frame in first ..< first + (1 << UInt32(order)) {
            table.entry(frame).pointee = FrameInfo(next: FrameInfo.none, prev: FrameInfo.none, refCount: 0,
                                                  mapCount: 0, kind: .free, order: FrameInfo.notHead)
        }
        frameCounts[Int(FrameKind.free.rawValue)] += 1 << order
        var block = first
        var current = order
        while current < Self.maxOrder {
            let buddy = block ^ (1 << UInt32(current))
            guard buddy < table.frameCount else { break }
            let info = table.entry(buddy)
            guard info.pointee.kind == .free, info.pointee.order == UInt8(current) else { break }
            unlink(buddy, order: current)
            info.pointee.order = FrameInfo.notHead
            block = min(block, buddy)
            current += 1
        }
        push(block, order: current)
    }

    /// Makes `frame` the head of a free block of `order` at the front of its list.
    private func push(_ frame: UInt32, order: Int) {
        let head = freeHeads[order]
        let info = table.entry(frame)
        info.pointee.order = UInt8(order)
        info.pointee.prev = FrameInfo.none
        info.pointee.next = head
        if head != FrameInfo.none { table.entry(head).pointee.prev = frame }
        freeHeads[order] = frame
    }

    /// Takes the free block head `frame` out of the list of `order`.
    private func unlink(_ frame: UInt32, order: Int) {
        let info = table.entry(frame)
        let next = info.pointee.next
        let prev = info.pointee.prev
        if prev == FrameInfo.none { freeHeads[order] = next } else { table.entry(prev).pointee.next = next }
        if next != FrameInfo.none { table.entry(next).pointee.prev = prev }
        info.pointee.next = FrameInfo.none
        info.pointee.prev = FrameInfo.none
    }

    // MARK: Self-check

    /// Walks the whole table and every free list; returns what is wrong, or
    /// nil if every invariant holds. O(frames): for tests and debugging.
    func verifyInvariants() -> StaticString? {
        var counts = [Int](repeating: 0, count: FrameKind.allCases.count)
        var freeInBlocks = 0
        var frame: UInt32 = 0
        while frame < table.frameCount {
            let info = table.entry(frame).pointee
            if info.kind == .free && info.order != FrameInfo.notHead {
                let order = Int(info.order)
                if order > Self.maxOrder { return "free block order out of range" }
                if frame & ((1 << UInt32(order)) - 1) != 0 { return "free block not aligned" }
                let end = frame + (1 << UInt32(order))
                if end > table.frameCount { return "free block beyond table" }
                for inner in frame + 1 ..< end {
                    let i = table.entry(inner).pointee
                    if i.kind != .free || i.order != FrameInfo.notHead { return "free block interior not free" }
                }
                if order < Self.maxOrder {
                    let buddy = frame ^ (1 << UInt32(order))
                    if buddy < table.frameCount {
                        let b = table.entry(buddy).pointee
                        if b.kind == .free && b.order == UInt8(order) { return "two free buddies not merged" }
                    }
                }
                if info.refCount != 0 || info.mapCount != 0 { return "free frame has counts" }
                freeInBlocks += 1 << order
                counts[0] += 1 << order
                frame = end
                continue
            }
            if info.kind == .free { return "free frame outside any free block" }
            if info.order != FrameInfo.notHead { return "non-free frame marked as a block head" }
            if info.kind.isHandedOut && info.refCount == 0 { return "handed-out frame with no reference" }
            if info.kind.isHandedOut && info.mapCount > info.refCount { return "more mappings than references" }
            if !info.kind.isHandedOut && (info.refCount != 0 || info.mapCount != 0) { return "unmanaged frame has counts" }
            if info.kind != .reserved { counts[Int(info.kind.rawValue)] += 1 }
            frame += 1
        }
        var listed = 0
        for order in 0 ... Self.maxOrder {
            var prev = FrameInfo.none
            var current = freeHeads[order]
            while current != FrameInfo.none {
                let info = table.entry(current).pointee
                if info.kind != .free || info.order != UInt8(order) { return "free list holds a non-head" }
                if info.prev != prev { return "free list back link broken" }
                listed += 1 << order
                if listed > freeInBlocks { return "free list has a cycle or extra entries" }
                prev = current
                current = info.next
            }
        }
        if listed != freeInBlocks { return "free block missing from its list" }
        for kind in FrameKind.allCases where kind != .reserved {
            if counts[Int(kind.rawValue)] != frameCounts[Int(kind.rawValue)] { return "per-kind count wrong" }
        }
        if statistics.framesByKind.reduce(0, +) != totalFrames { return "kind counts do not add up to total" }
        return nil
    }
}
