// PageTable: one x86-64 4-level address space (SDM vol. 3A §4.5), generic
// over how physical memory is reached and where page-table pages come from,
// so the kernel plugs in its direct map and frame allocator and the host
// tests a simulated RAM and a failing-on-demand provider.
//
// Design:
// - ~Copyable: one owner per hierarchy; dropping it without `tearDown`
//   traps (its frames would leak). All changes go through a
//   PageTableCursor (PageTableCursor.swift); lookups are here.
// - Kernel-half sharing (like Linux's pgd_alloc copying the kernel PGD
//   entries): the kernel's table pins a suffix of PML4 slots and allocates
//   their PDPTs up front, so a user space created later can copy those
//   PML4 entries and see every later kernel mapping. A user space owns only
//   the slots below; its cursors refuse the shared slots and its teardown
//   never frees the kernel's tables.
// - Errors leave the tables exactly as before the call (rollback by
//   reserving page-table pages before any write, TableReserve.swift).
// - Large pages are never split: an unmap or protect whose range cuts a
//   2 MiB or 1 GiB page fails with `.splitsLargePage` before any change.

@frozen
public struct PageTable<Memory: PhysicalMemory, Frames: FrameProvider>: ~Copyable {
    /// The PML4's physical address: what CR3 holds while this space is loaded.
    public let root: PhysicalAddress
    public let memory: Memory
    public let frames: Frames
    /// PML4 slots this table owns: cursors may work there, teardown frees there.
    public let ownedSlots: Range<Int>
    /// Owned PML4 slots whose PDPT stays even when empty (shared into user spaces).
    public let pinnedSlots: Range<Int>
    /// Set by `tearDown`; dropping the table while false is a leak.
    @usableFromInline var tornDown = false

    /// Every PML4 slot.
    public static var allSlots: Range<Int> { 0..<PagingLevel.entriesPerTable }

    /// A new empty address space owning every PML4 slot; the PML4 slots in
    /// `pinnedSlots` get an (empty) PDPT now, kept for the table's lifetime,
    /// so that user spaces can share them (pass the kernel half, e.g. 255..<512).
    /// Throws `.outOfMemory` having released everything it allocated.
    public init(memory: Memory, frames: Frames, pinnedSlots: Range<Int> = 0..<0) throws(PagingError) {
        precondition(pinnedSlots.isEmpty || Self.allSlots.contains(pinnedSlots.lowerBound)
                     && pinnedSlots.upperBound <= PagingLevel.entriesPerTable, "pinned slots outside the PML4")
        var reserve = try TableReserve(count: 1 + pinnedSlots.count, frames: frames, memory: memory)
        let root = reserve.take(memory: memory)
        let tree = PageTableTree(memory: memory, frames: frames, root: root, pinnedSlots: pinnedSlots)
        for slot in pinnedSlots {
            tree.setEntry(root, slot, .link(to: reserve.take(memory: memory)))
        }
        reserve.releaseAll(to: frames, memory: memory)
        self.root = root
        self.memory = memory
        self.frames = frames
        self.ownedSlots = Self.allSlots
        self.pinnedSlots = pinnedSlots
    }

    /// A new user address space sharing `kernel`'s pinned PML4 entries (its
    /// kernel half) and owning the slots below them. Later kernel mappings in
    /// those slots are visible here too, since the PDPTs are shared.
    /// Contract: `kernel.pinnedSlots` is non-empty and ends at slot 511.
    /// Throws `.outOfMemory` with nothing allocated.
    public init(sharingKernelHalfOf kernel: borrowing PageTable<Memory, Frames>) throws(PagingError) {
        precondition(!kernel.pinnedSlots.isEmpty && kernel.pinnedSlots.upperBound == PagingLevel.entriesPerTable,
                     "the kernel half must be a non-empty suffix of the PML4")
        var reserve = try TableReserve(count: 1, frames: kernel.frames, memory: kernel.memory)
        let root = reserve.take(memory: kernel.memory)
        // One copy of the kernel's PML4 entries (257 of them with the
        // kernel at slot 255): a memcpy is `rep movsq`, an entry loop ~9
        // instructions an entry. SAFETY: both are whole PML4 pages reached
        // through the physical window; the slots lie inside them.
        let entrySize = MemoryLayout<UInt64>.stride
        let firstByte = kernel.pinnedSlots.lowerBound * entrySize
        (kernel.memory.pointer(to: root) + firstByte)
            .copyMemory(from: kernel.memory.pointer(to: kernel.root) + firstByte,
                        byteCount: kernel.pinnedSlots.count * entrySize)
        self.root = root
        self.memory = kernel.memory
        self.frames = kernel.frames
        self.ownedSlots = 0..<kernel.pinnedSlots.lowerBound
        self.pinnedSlots = 0..<0
    }

    var tree: PageTableTree<Memory, Frames> {
        PageTableTree(memory: memory, frames: frames, root: root, pinnedSlots: pinnedSlots)
    }

    /// A cursor over [range.lowerBound, range.upperBound), positioned at its
    /// start. `mutating` because the cursor edits this table: use one cursor
    /// at a time (the kernel serialises address-space changes with a lock).
    /// Throws `.misaligned` (bounds not 4 KiB aligned), `.invalidRange`
    /// (empty, non-canonical, across the canonical hole) or
    /// `.outsideOwnedRange` (touches PML4 slots this table does not own).
    public mutating func cursor(over range: Range<VirtualAddress>) throws(PagingError)
        -> PageTableCursor<Memory, Frames> {
        let start = range.lowerBound, end = range.upperBound
        guard start.isPageAligned && end.isPageAligned else { throw .misaligned }
        guard start < end else { throw .invalidRange }
        let last = VirtualAddress(end.raw - 1)
        guard LinearAddress.isCanonical(start), LinearAddress.isCanonical(last),
              (start.raw ^ last.raw) & LinearAddress.higherHalfBit == 0 else { throw .invalidRange }
        let linearStart = LinearAddress.linear(start)
        let linearEnd = LinearAddress.linear(last) + 1
        guard ownedSlots.contains(PagingLevel.pml4.index(of: linearStart)),
              ownedSlots.contains(PagingLevel.pml4.index(of: linearEnd - 1)) else { throw .outsideOwnedRange }
        return PageTableCursor(tree: tree, linearStart: linearStart, linearEnd: linearEnd)
    }

    /// The leaf mapping `address`, or nil if it is not mapped.
    public func query(_ address: VirtualAddress) -> Mapping? {
        guard LinearAddress.isCanonical(address) else { return nil }
        return tree.mapping(LinearAddress.linear(address))
    }

    /// Calls `body(address, entry)` for every present leaf in `range`, and
    /// every parked one (`entry.isParked`: PROT_NONE keeping its frame) if
    /// `includingParked`, in address order, without changing anything (the
    /// invariant checker, fork, reports).
    /// Contract: `range` is page aligned and canonical.
    public func forEachLeaf(in range: Range<VirtualAddress>, includingParked: Bool = false,
                            _ body: (VirtualAddress, PageTableEntry) -> Void) {
        guard !range.isEmpty else { return }
        let start = LinearAddress.linear(range.lowerBound)
        let end = LinearAddress.linear(VirtualAddress(range.upperBound.raw - 1)) + 1
        tree.visitLeaves(root, .pml4, 0, start, end, includingParked: includingParked, body)
    }

    /// The frame a parked leaf at `address` keeps, or nil if there is none
    /// (`query` and `translate` see only present leaves).
    public func parkedFrame(at address: VirtualAddress) -> PhysicalAddress? {
        guard LinearAddress.isCanonical(address) else { return nil }
        let linear = LinearAddress.linear(address)
        guard let table = tree.findPageTable(linear) else { return nil }
        let found = tree.entry(table, PagingLevel.pageTable.index(of: linear))
        return found.isParked ? found.address(at: .pageTable) : nil
    }

    /// The physical address `address` translates to, offset within a large
    /// page included, or nil if it is not mapped.
    public func translate(_ address: VirtualAddress) -> PhysicalAddress? {
        guard let found = query(address) else { return nil }
        return found.physicalStart + (address.raw - found.virtualStart.raw)
    }

    /// Frees the whole hierarchy: hands every owned frame still mapped
    /// (present or parked) to `release`, returns every page-table page of the owned slots and the
    /// root to the frame provider. Shared (not owned) slots are left alone.
    /// Contract: the space is not loaded on any CPU and has no TLB entries
    /// left (no PCID: loading another CR3 dropped them), so nothing is owed.
    public consuming func tearDown(releasing release: (consuming OwnedFrame) -> Void) {
        let tree = self.tree
        for slot in ownedSlots {
            let found = tree.entry(root, slot)
            if found.isPresent { tree.freeSubtree(of: found, at: .pml4, release: release) }
        }
        tree.freeTable(root)
        tornDown = true
    }

    /// `tearDown(releasing:)` for a table whose mappings all lie inside
    /// `ranges`, handing every owned frame's reference back to the table's
    /// FrameProvider (exit; Linux exit_mmap: unmap_vmas and free_pgtables
    /// walk the VMAs' ranges, not the whole tree). Only the entries whose
    /// coverage meets a range are read: a process with a few small regions
    /// spread over the address space costs a few dozen entries per table
    /// instead of 512. Contract: `ranges` are sorted, disjoint, page aligned,
    /// canonical and inside the owned slots; every leaf of the owned slots
    /// lies inside them and no page-table page is empty (UserAddressSpace
    /// invariant 2; unmap frees emptied tables), so every table is reached;
    /// plus the contract of `tearDown(releasing:)`.
    public consuming func tearDown(mappedWithin ranges: [Range<VirtualAddress>]) {
        if let last = ranges.last {
            precondition(ownedSlots.contains(PagingLevel.pml4.index(of: LinearAddress.linear(VirtualAddress(last.upperBound.raw - pageSize)))),
                         "tearDown: a range outside the owned slots")
        }
        let linear = ranges.map { LinearAddress.linear($0.lowerBound)..<LinearAddress.linear(VirtualAddress($0.upperBound.raw - pageSize)) + pageSize }
        tree.freeCovered(root, .pml4, 0, linear, from: 0)
        tree.freeTable(root)
        tornDown = true
    }

    deinit {
        if !tornDown { fatalError("PageTable dropped without tearDown: its frames leak") }
    }
}
