// FrameAllocator: the physical frame allocator, a binary buddy system.
// This file: construction, allocation and freeing, the checks and the buddy
// system. FrameAllocator+References.swift: the reference and map counts,
// flags and reverse-map record of a handed-out frame. +Verify.swift: the
// self-check of the invariants below. FrameViolation.swift: what misuse
// reports.
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
    // Internal, not private, here and on the checks below only because the
    // extensions in FrameAllocator+References.swift and +Verify.swift use
    // them; nothing outside the allocator's files should.
    let table: FrameTable<Memory>
    /// Physical range of the per-frame table.
    public let metadataRange: Range<UInt64>
    /// Per order 0 ... maxOrder: first frame of the free list, or FrameInfo.none.
    let freeHeads: UnsafeMutablePointer<UInt32>
    public let totalFrames: Int
    /// Frames per kind, by FrameKind.rawValue.
    let frameCounts: UnsafeMutablePointer<Int>

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
    func frameNumber(_ address: PhysicalAddress) -> UInt32? {
        guard address.isPageAligned, address.frameNumber < UInt64(table.frameCount) else { return nil }
        return UInt32(address.frameNumber)
    }

    /// Like frameNumber, but reports why `operation` cannot use `address`.
    @inline(__always)
    func checkedFrame(_ address: PhysicalAddress, _ operation: FrameViolation.Operation) -> UInt32? {
        guard address.isPageAligned else { report(operation, .notPageAligned, address); return nil }
        guard let frame = frameNumber(address) else { report(operation, .frameNotAllocatable, address); return nil }
        return frame
    }

    /// True if `kind` is a handed-out kind; reports otherwise.
    @inline(__always)
    func checkHandedOut(_ kind: FrameKind, _ operation: FrameViolation.Operation,
                                _ address: PhysicalAddress) -> Bool {
        if kind.isHandedOut { return true }
        report(operation, kind == .free ? .frameIsFree : .frameNotAllocatable, address)
        return false
    }

    /// True if one reference on `frame` may be dropped; reports otherwise.
    @inline(__always)
    func canDropReference(_ frame: UInt32, _ operation: FrameViolation.Operation) -> Bool {
        let info = table.entry(frame).pointee
        let address = Self.address(of: frame)
        guard checkHandedOut(info.kind, operation, address) else { return false }
        guard info.refCount > 0 else { report(operation, .countUnderflow, address); return false }
        guard info.refCount > 1 || info.mapCount == 0 else { report(operation, .frameStillMapped, address); return false }
        return true
    }

    /// Records a violation and tells the handler. Changes nothing else.
    @inline(never)
    func report(_ operation: FrameViolation.Operation, _ problem: FrameViolation.Problem,
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
    func dropReference(_ frame: UInt32) -> Bool {
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
}
