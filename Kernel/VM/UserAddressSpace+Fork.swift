// fork: a copy of the address space for a child process (Linux
// kernel/fork.c dup_mmap). Today every page is copied eagerly into a fresh
// frame; the VM work replaces this with copy-on-write (share the frames,
// write-protect both sides, flushing the parent through `tlb`).

extension UserAddressSpace {
    /// A new space sharing `kernel`'s half, with the same regions and break
    /// as this one and a private copy of every resident page.
    /// `tlb` is that of the CPU on which this space is loaded: copy-on-write
    /// will write-protect this space through it. While the copy is eager
    /// this space does not change; only the child's edits use it, and those
    /// owe no invalidation (new entries only; the child is not loaded).
    /// Throws `.outOfMemory` having torn the partial child down completely
    /// (every frame it got is released).
    public func fork<TLB: TLBControl>(kernel: borrowing PageTable<Memory, Frames>,
                                      tlb: TLB) throws(VMError) -> UserAddressSpace<Memory, Frames> {
        var child = try UserAddressSpace(sharingKernelHalfOf: kernel)
        let memory = table.memory
        for region in regions where region.protection.allowsAccess {
            do {
                try child.populate(region.range, region.protection, tlb: tlb) { page, destination in
                    guard let source = table.translate(page) else { return }
                    destination.copyMemory(from: memory.pointer(to: source), byteCount: Int(pageSize))
                }
            } catch {
                child.tearDown()
                throw error
            }
        }
        child.regionList = regionList
        child.breakStart = breakStart
        child.breakEnd = breakEnd
        return child
    }
}
