// Kernel-side access to a space's memory through the physical frames
// (`table.translate` and `table.memory`), ignoring page protections and
// whichever CR3 is loaded: for filling a NEW space (ELF segments, the
// initial stack) before it runs. System calls reach the CURRENT process's
// memory differently: a range check, then a copy whose faults are fixed up
// (Kernel/Arch/x86_64/UserMemory.swift).

extension UserAddressSpace {
    /// Copies `bytes` to [address, address + bytes.count) in this space.
    /// Throws `.notMapped`, having written nothing, if the range leaves user
    /// space or any page of it has no frame.
    public func write(_ bytes: UnsafeRawBufferPointer, at address: VirtualAddress) throws(VMError) {
        try forEachChunk(at: address, count: bytes.count) { offset, pointer, count in
            pointer.copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
        }
    }

    /// Fills `buffer` from [address, address + buffer.count) in this space.
    /// Throws `.notMapped`, having read nothing, if the range leaves user
    /// space or any page of it has no frame.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: VirtualAddress) throws(VMError) {
        try forEachChunk(at: address, count: buffer.count) { offset, pointer, count in
            (buffer.baseAddress! + offset).copyMemory(from: pointer, byteCount: count)
        }
    }

    /// True if every byte of `range` lies in regions granting at least
    /// `protection` (as the hardware grants it: any access implies read).
    /// An empty range is contained if it starts at or below `userEnd`
    /// (like Linux's access_ok with size 0); a range reaching outside
    /// [userStart, userEnd) never is.
    public func contains(_ range: Range<VirtualAddress>, needing protection: VMProtection) -> Bool {
        if range.isEmpty { return range.lowerBound <= Self.userEnd }
        guard range.lowerBound >= Self.userStart, range.upperBound <= Self.userEnd else { return false }
        return regionList.covers(range) { $0.protection.effective.isSuperset(of: protection) }
    }

    /// True if no region overlaps `range` (MAP_FIXED_NOREPLACE's check).
    public func isFree(_ range: Range<VirtualAddress>) -> Bool {
        regionList.isFree(range)
    }

    /// Calls `body(offset, pointer, count)` for each piece of
    /// [address, address + count) within one page, in order, where `pointer`
    /// reaches the piece's physical memory. Checks every page first: throws
    /// `.notMapped` without calling `body` if the range leaves user space or
    /// a page has no frame.
    private func forEachChunk(at address: VirtualAddress, count: Int,
                              _ body: (_ offset: Int, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Void)
        throws(VMError) {
        guard count > 0 else { return }
        guard Self.isUserRange(start: address.raw, length: UInt64(count)) else { throw .notMapped }
        let end = address.raw + UInt64(count)
        var page = address.raw & ~(pageSize - 1)
        while page < end {
            guard table.translate(VirtualAddress(page)) != nil else { throw .notMapped }
            page += pageSize
        }
        var offset = 0
        while offset < count {
            let current = address + UInt64(offset)
            let inPage = Int(pageSize - (current.raw & (pageSize - 1)))
            let chunk = Swift.min(inPage, count - offset)
            body(offset, table.memory.pointer(to: table.translate(current)!), chunk)
            offset += chunk
        }
    }
}
