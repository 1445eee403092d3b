// NewRegion: a region that mmap is setting up, before it is committed to
// the space (Linux's VmaNew in rust/kernel/mm/virt.rs: the VMA handed to a
// file's f_op->mmap before it is inserted, whose flags may still be
// narrowed there, e.g. with try_clear_maywrite).
//
// Design: ~Copyable, and committed by a consuming call, so that a region
// is configured, then committed exactly once, and cannot be changed or
// committed again afterwards (the compiler refuses a use after commit).
// Its only configuration today is narrowing the may-permissions. It is the
// "new" of the three typed access levels; the read and write views are in
// RegionViews.swift.

public struct NewRegion: ~Copyable {
    private var region: Region

    /// A region over `range` as `request` asks, with every may-permission
    /// (a new VMA's VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC).
    /// Contract: `range` is page aligned and non-empty.
    init(range: Range<VirtualAddress>, _ request: MapRequest) {
        region = Region(range: range, protection: request.protection, kind: request.kind,
                        backing: request.backing, pageOffset: request.pageOffset)
    }

    public var protection: VMProtection { region.protection }
    /// The region as it would be committed now (mmap checks the limits on it).
    var shape: Region { region }
    public var mayProtection: VMProtection { region.mayProtection }

    /// Takes VM_MAYWRITE away, so that no mprotect can make the region
    /// writable (Region invariant 2 keeps protection within it). Throws
    /// `.permissionDenied` if the region is writable already, leaving it
    /// unchanged. Linux's VmaNew::try_clear_maywrite refuses the same case
    /// with EINVAL; do_mmap, whose rule this is for a shared file mapping
    /// without FMODE_WRITE, checks PROT_WRITE first and returns EACCES,
    /// which is what mmap must return here.
    public mutating func clearMayWrite() throws(VMError) {
        guard !region.protection.contains(.write) else { throw .permissionDenied }
        region.mayProtection.remove(.write)
    }

    /// Puts the region into `space`'s regions, merging it with compatible
    /// neighbours, and counts its pages (UserAddressSpace.commitRegion).
    /// Contract: nothing overlaps its range. A shared file region must have
    /// lost may-write by now (Region invariant 3).
    consuming func commit<Memory, Frames>(into space: inout UserAddressSpace<Memory, Frames>) {
        if case .sharedFile = region.backing {
            precondition(!region.mayProtection.contains(.write), "a shared file region that may write")
        }
        space.commitRegion(region)
    }
}
