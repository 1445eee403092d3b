// munmap: removing part of the address space (Linux mm/mmap.c
// do_vmi_munmap): holes are not an error, regions straddling the bounds
// are split, frames are released.

extension UserAddressSpace {
    /// Removes every mapping in `range`, whose end is rounded up to a page
    /// here (munmap rounds its length). Pages of `range` outside any region
    /// are fine (Linux returns 0). Throws `.invalidArgument` if the start is
    /// not page aligned, the range is empty, or it ends above `userEnd`;
    /// `.tooManyRegions` if it would split a region with RegionList.maxCount
    /// regions already there (Linux vms_gather_munmap_vmas: ENOMEM);
    /// nothing changes then.
    public mutating func unmap<TLB: TLBControl>(_ range: Range<VirtualAddress>, tlb: TLB) throws(VMError) {
        guard range.lowerBound.isPageAligned, !range.isEmpty,
              let end = Self.pageAlignedUp(range.upperBound.raw), end <= Self.userEnd.raw else {
            throw .invalidArgument
        }
        let range = range.lowerBound..<VirtualAddress(end)
        guard regionList.fits(placing: [], over: range) else { throw .tooManyRegions }
        removeMappings(range, tlb: tlb)
    }

    /// Unmaps the pages of the regions in `range` and removes `range` from
    /// the regions. Contract: `range` is page aligned.
    mutating func removeMappings<TLB: TLBControl>(_ range: Range<VirtualAddress>, tlb: TLB) {
        let pieces = regionList.pieces(in: range)
        guard let first = pieces.first, let last = pieces.last else { return }
        discardPages(first.start..<last.end, tlb: tlb)
        removeRegions(range, pieces: pieces)
    }
}
