// The end of an address space (Linux exit_mmap).

extension UserAddressSpace {
    /// Releases every user frame and every page-table page of the owned
    /// slots (the shared kernel half stays). Contract: the space is not
    /// loaded in CR3 on any CPU and has no TLB entries left (without PCID:
    /// another CR3 was loaded since), so no invalidation is owed.
    public consuming func tearDown() {
        for region in regions { region.lineage?.remove(identity) }
        // Every leaf lies inside a region and no table is empty (invariant 2),
        // so walking the regions' ranges reaches every table.
        table.tearDown(mappedWithin: regions.map { $0.range })
    }
}
