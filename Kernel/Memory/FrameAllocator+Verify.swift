// FrameAllocator's self-check: every invariant of FrameAllocator.swift's
// header, verified from the table and the free lists alone.

extension FrameAllocator {

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
