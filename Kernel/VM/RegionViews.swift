// Typed access levels for regions (Linux rust/kernel/mm/virt.rs: VmaRef,
// the write-locked VMA, VmaNew): the type of the view says which lock its
// holder stands under, so an operation of a higher level does not compile
// at a lower one.
//
// | Level | Linux (lock held)                          | Here (how it is lent)             | May                                  |
// |-------|--------------------------------------------|-----------------------------------|--------------------------------------|
// | read  | VmaRef: mmap_read_lock, or the VMA's read  | RegionRef, `borrowing`, by         | read the region; fault pages in      |
// |       | lock (lock_vma_under_rcu)                  | `withRegion` and the fault path    | (resolve)                            |
// | write | mmap_write_lock + vma_start_write          | RegionMut, `inout`, by             | also change the protection, within   |
// |       |                                            | `withRegionForWriting`, mprotect   | the may-permissions (EACCES past)    |
// | new   | VmaNew: mmap_write_lock, VMA not in the    | NewRegion, owned, `consuming`      | narrow the may-permissions, then     |
// |       | tree yet (f_op->mmap)                      | commit (NewRegion.swift)           | commit once                          |
//
// How the compiler enforces it:
// - Every view is ~Copyable: it cannot be duplicated, so there is never a
//   second view of a region behind the lender's back.
// - RegionRef and RegionMut are lent to a closure as `borrowing` or
//   `inout` parameters: a borrowed noncopyable value cannot be consumed,
//   so it can be neither stored outside nor returned; the view ends with
//   the call, as the lock guard does in Linux (the lock is released when
//   the guard goes out of scope).
// - RegionRef has getters only: changing a region through it does not
//   compile, and it has no `setProtection`.
// - NewRegion is consumed by `commit`: a use after commit does not compile.
// Tests/CompileFail holds one snippet per misuse, each with the compiler's
// diagnostic; `make test` checks that each fails to compile with it (and
// that a correct use compiles, so the check cannot pass vacuously).
//
// The space's own level (a borrowed space is the mmap read lock, a
// mutating operation the write lock), the deviation of the fault path and
// the lock order are stated once, in the header of UserAddressSpace.swift.

/// Read access to one region (Linux VmaRef). Lent `borrowing` by
/// `UserAddressSpace.withRegion(containing:_:)` and given to the fault path.
public struct RegionRef: ~Copyable {
    /// The region as it was when the view was made (a value: the view
    /// never changes, and nothing can change the region while it exists).
    let region: Region

    init(_ region: Region) { self.region = region }

    public var range: Range<VirtualAddress> { region.range }
    public var start: VirtualAddress { region.start }
    public var end: VirtualAddress { region.end }
    public var protection: VMProtection { region.protection }
    public var mayProtection: VMProtection { region.mayProtection }
    public var kind: RegionKind { region.kind }
    public var backing: RegionBacking { region.backing }
    public var pageOffset: UInt64 { region.pageOffset }
    /// The page of the backing object that `address` maps (vm_pgoff + offset).
    public func pageIndex(of address: VirtualAddress) -> UInt64 { region.pageIndex(of: address) }
}

/// Write access to one region (Linux: the VMA under mmap_write_lock and
/// vma_start_write). Lent `inout` by `withRegionForWriting` and made by
/// mprotect for each piece it changes.
public struct RegionMut: ~Copyable {
    private var region: Region

    init(_ region: Region) { self.region = region }

    public var range: Range<VirtualAddress> { region.range }
    public var protection: VMProtection { region.protection }
    public var mayProtection: VMProtection { region.mayProtection }
    public var kind: RegionKind { region.kind }
    public var backing: RegionBacking { region.backing }

    /// Gives the region `protection` (mprotect_fixup's vm_flags_reset).
    /// Throws `.permissionDenied` (EACCES), changing nothing, if the
    /// may-permissions do not allow it (do_mprotect_pkey's VM_MAY* check).
    public mutating func setProtection(_ protection: VMProtection) throws(VMError) {
        guard region.mayAllow(protection) else { throw .permissionDenied }
        region = region.with(protection: protection)
    }

    /// The region with the changes made through the view; ends the view.
    consuming func finish() -> Region { region }
}

extension UserAddressSpace {
    /// The read level: calls `body` with a read view of the region that
    /// contains `address` and returns its result, or nil if no region does.
    public func withRegion<Result>(containing address: VirtualAddress,
                                   _ body: (borrowing RegionRef) -> Result) -> Result? {
        guard let region = regionList.region(containing: address) else { return nil }
        let view = RegionRef(region)
        return body(view)
    }

    /// The write level: lends the region that contains `address` to `body`
    /// as a write view; when `body` returns, a changed protection is
    /// applied to the whole region as mprotect applies it (its pages
    /// re-protected or parked, neighbours merged; the limits checked).
    /// Throws `.notMapped` if no region contains `address`, or what `body`
    /// or the mprotect throws, with nothing changed.
    /// Contract: `tlb` is the TLB of the CPU that has this space loaded.
    public mutating func withRegionForWriting<TLB: TLBControl>(
        containing address: VirtualAddress, tlb: TLB, _ body: (inout RegionMut) throws(VMError) -> Void
    ) throws(VMError) {
        guard let region = regionList.region(containing: address) else { throw .notMapped }
        var view = RegionMut(region)
        try body(&view)
        let changed = view.finish()
        if changed.protection != region.protection {
            try protect(region.range, to: changed.protection, tlb: tlb)
        }
    }
}
