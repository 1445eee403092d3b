// The page-level steps the operations are built from: each changes the page
// table (the cache of the regions, invariant 2 in UserAddressSpace.swift)
// through one `table.edit`, flushed with the caller's TLB, and keeps
// `residentPages` exact. Only `populate` can fail (out of memory), and then
// changes nothing; unmap and protect never allocate, so any page-table error
// there means a broken contract and traps.

extension UserAddressSpace {
    /// Maps every page of `range` to a fresh frame with `protection`; `fill`
    /// may write a page's contents first (frames come zeroed).
    /// Throws `.outOfMemory` (no frame or page-table page) having unmapped
    /// and released everything it mapped.
    /// Contract: `range` is page aligned, inside user space, has no leaf;
    /// `protection.allowsAccess`.
    mutating func populate<TLB: TLBControl>(
        _ range: Range<VirtualAddress>, _ protection: VMProtection, tlb: TLB,
        fill: (_ page: VirtualAddress, _ destination: UnsafeMutableRawPointer) -> Void = { _, _ in }
    ) throws(VMError) {
        guard !range.isEmpty else { return }
        let frames = table.frames, memory = table.memory
        let pageProtection = protection.pageProtection
        var mappedBytes: UInt64 = 0
        do {
            try table.edit(range, flushingWith: tlb) { (cursor) throws(PagingError) in
                do throws(PagingError) {
                    while mappedBytes < range.upperBound.raw - range.lowerBound.raw {
                        guard let frame = frames.allocateFrame(kind: .user) else { throw .outOfMemory }
                        fill(range.lowerBound + mappedBytes, memory.pointer(to: frame.address))
                        try cursor.map(frame, pageProtection)
                        mappedBytes += pageSize
                    }
                } catch {
                    if mappedBytes > 0 {
                        try cursor.jump(to: range.lowerBound)
                        try cursor.unmap(length: mappedBytes) { frames.releaseFrame($0) }
                    }
                    throw error
                }
            }
        } catch {
            throw Self.vmError(error)
        }
        residentPages += Int(mappedBytes / pageSize)
    }

    /// Unmaps every page of `range` and releases its frame. Holes are fine.
    /// Contract: `range` is page aligned and inside user space.
    mutating func discardPages<TLB: TLBControl>(_ range: Range<VirtualAddress>, tlb: TLB) {
        guard !range.isEmpty else { return }
        let frames = table.frames
        var released = 0
        do {
            try table.edit(range, flushingWith: tlb) { (cursor) throws(PagingError) in
                try cursor.unmap(length: range.upperBound.raw - range.lowerBound.raw) { frame in
                    frames.releaseFrame(frame)
                    released += 1
                }
            }
        } catch {
            fatalError("user address space: page-table contract broken")
        }
        residentPages -= released
    }

    /// Gives every mapped page of `range` the protection `protection`.
    /// Contract: `range` is page aligned and inside user space;
    /// `protection.allowsAccess`.
    mutating func reprotectPages<TLB: TLBControl>(_ range: Range<VirtualAddress>, _ protection: VMProtection,
                                                  tlb: TLB) {
        guard !range.isEmpty else { return }
        let pageProtection = protection.pageProtection
        do {
            try table.edit(range, flushingWith: tlb) { (cursor) throws(PagingError) in
                try cursor.protect(length: range.upperBound.raw - range.lowerBound.raw, pageProtection)
            }
        } catch {
            fatalError("user address space: page-table contract broken")
        }
    }

    /// The VMError for a page-table error. Only `.outOfMemory` can happen:
    /// any other means this code broke a contract (ranges are validated
    /// before, and user spaces have no large pages), so it traps.
    static func vmError(_ error: PagingError) -> VMError {
        guard error == .outOfMemory else { fatalError("user address space: page-table contract broken") }
        return .outOfMemory
    }
}
