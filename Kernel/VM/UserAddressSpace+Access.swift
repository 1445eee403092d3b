// Kernel-side access to a space's memory through the physical frames
// (`table.translate` and `table.memory`), whichever CR3 is loaded: for
// filling a NEW space (ELF segments, the initial stack) before it runs,
// and for file mmap contents. Each page is first faulted in through the
// fault path with the access's intent (Linux get_user_pages with
// FOLL_WRITE, Asterinas access_remote), so a write never lands in the zero
// page or in a frame another process shares copy-on-write. System calls
// reach the CURRENT process's memory differently: a range check, then a
// copy whose faults go through the same fault path first and become
// -EFAULT only if it cannot resolve them (Kernel/Arch/x86_64/UserMemory.swift).

extension UserAddressSpace {
    /// Copies `bytes` to [address, address + bytes.count) in this space,
    /// faulting each page in for writing first, regardless of protection
    /// (the loader writes read-only segments). Throws `.notMapped` if the
    /// range leaves user space or a page is in no region, `.outOfMemory`;
    /// the pages before the failing one are written then.
    public mutating func write<TLB: TLBControl>(_ bytes: UnsafeRawBufferPointer, at address: VirtualAddress,
                                                tlb: TLB) throws(VMError) {
        try forEachChunk(at: address, count: bytes.count, access: .write, tlb: tlb) { offset, pointer, count in
            pointer.copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
        }
    }

    /// Zeroes [address, address + count) in this space, faulting each page
    /// in for writing first, as `write` does (Linux clear_user; the ELF
    /// loader's padzero). Throws as `write` does.
    public mutating func zero<TLB: TLBControl>(count: Int, at address: VirtualAddress, tlb: TLB) throws(VMError) {
        try forEachChunk(at: address, count: count, access: .write, tlb: tlb) { _, pointer, count in
            // SAFETY: forEachChunk gives `count` bytes of one frame at `pointer`.
            pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count)
        }
    }

    /// Fills `buffer` from [address, address + buffer.count) in this space,
    /// faulting pages in for reading. Throws as `write` does.
    public mutating func read<TLB: TLBControl>(into buffer: UnsafeMutableRawBufferPointer, at address: VirtualAddress,
                                               tlb: TLB) throws(VMError) {
        try forEachChunk(at: address, count: buffer.count, access: .read, tlb: tlb) { offset, pointer, count in
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

    /// The region containing `address`, or nil (for reports: kill lines, the monitor).
    public func region(containing address: VirtualAddress) -> Region? {
        regionList.region(containing: address)
    }

    /// Calls `body(offset, pointer, count)` for each piece of
    /// [address, address + count) within one page, in order, where `pointer`
    /// reaches the piece's physical memory, after faulting that page in.
    private mutating func forEachChunk<TLB: TLBControl>(
        at address: VirtualAddress, count: Int, access: MemoryAccess, tlb: TLB,
        _ body: (_ offset: Int, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Void
    ) throws(VMError) {
        guard count > 0 else { return }
        guard Self.isUserRange(start: address.raw, length: UInt64(count)) else { throw .notMapped }
        var offset = 0
        while offset < count {
            let current = address + UInt64(offset)
            try faultInForKernel(current, access, tlb: tlb)
            let inPage = Int(pageSize - (current.raw & (pageSize - 1)))
            let chunk = Swift.min(inPage, count - offset)
            body(offset, table.memory.pointer(to: table.translate(current)!), chunk)
            offset += chunk
        }
    }

    /// Makes the page of `address` present with `access` for the kernel,
    /// ignoring a read-only region's protection (the loader fills text and
    /// rodata; Linux FOLL_FORCE): the fault is resolved as if the region
    /// were writable, then the leaf gets the region's own protection back.
    private mutating func faultInForKernel<TLB: TLBControl>(_ address: VirtualAddress, _ access: MemoryAccess,
                                                            tlb: TLB) throws(VMError) {
        if let leaf = table.query(address), access != .write || leaf.protection.contains(.write) { return }
        guard let region = regionList.region(containing: address), region.protection.allowsAccess else {
            throw .notMapped
        }
        let fault = PageFault(address: address, access: access, wasPresent: false, fromUser: false)
        let page = VirtualAddress(address.raw & ~(pageSize - 1))
        if access == .write && !region.protection.contains(.write) {
            // Never a region that may not write (a shared file mapping: its
            // frames are the page cache's).
            guard region.mayProtection.contains(.write) else { throw .notMapped }
            let prepared = preparedForFault(region, at: page)
            let forced = RegionRef(prepared.with(protection: prepared.protection.union(.write)))
            try Self.check(resolve(fault, in: forced, tlb: tlb))
            reprotectPages([region.clipped(to: page..<page + pageSize)!], tlb: tlb)
            return
        }
        let view = RegionRef(preparedForFault(region, at: page))
        try Self.check(resolve(fault, in: view, tlb: tlb))
    }

    private static func check(_ outcome: FaultResolution) throws(VMError) {
        switch outcome {
        case .resolved: return
        case .outOfMemory: throw .outOfMemory
        case .notMapped, .accessDenied, .beyondEnd: throw .notMapped
        }
    }
}
