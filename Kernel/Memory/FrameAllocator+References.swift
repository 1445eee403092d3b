// FrameAllocator: a handed-out frame's reference count, map count, flags
// and reverse-map record (FrameTable.swift's FrameInfo). The invariants
// are those of FrameAllocator.swift: a handed-out frame has refCount >= 1
// and mapCount <= refCount, and its last reference cannot be dropped while
// it is mapped. Each operation checks its frame first and reports misuse
// (FrameViolation) instead of changing anything.

extension FrameAllocator {
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
        dropMapping(address)
    }

    /// decrementMapCount's work; returns the frame's number, or nil (and
    /// reports) when its map count could not be dropped.
    @inline(__always) @discardableResult
    private func dropMapping(_ address: PhysicalAddress) -> UInt32? {
        guard let frame = checkedFrame(address, .decrementMapCount) else { return nil }
        let info = table.entry(frame)
        guard checkHandedOut(info.pointee.kind, .decrementMapCount, address) else { return nil }
        guard info.pointee.mapCount > 0 else { report(.decrementMapCount, .countUnderflow, address); return nil }
        info.pointee.mapCount -= 1
        return frame
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
        guard let frame = dropMapping(address), canDropReference(frame, .release) else { return }
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
}
