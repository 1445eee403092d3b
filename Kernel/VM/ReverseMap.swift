// The reverse map: from a frame to the (space, address) pairs that map it
// (Linux mm/rmap.c rmap_walk_anon over anon_vma, and the shmem mapping's
// i_mmap for shared pages; Asterinas has none yet). A frame records an
// owner identity and a page index (FrameInfo.owner, .index):
// - a private page: its region's AnonLineage, and region.pageIndex(va);
//   the lineage lists the spaces that may map it (`members`);
// - a shared page: its SharedMemory object, and the object's page index;
// - a page-cache page: its FileContents, and the file's page index; the
//   regions mapping the file, private or shared, hold it read-only.
// A walk visits the candidate spaces and, in each, the regions of that
// owner whose index range holds the index; the address follows from
// `region.start + (index - region.pageOffset) * pageSize`, and the leaf
// there is a mapping of the frame only if it maps that very frame (after
// a copy-on-write break the same address maps another frame), present or
// parked (PROT_NONE keeps the frame in a non-present leaf; Linux's rmap
// walk finds protnone PTEs too).
// The zero page has no reverse map (Linux: it is not rmap'ed either).
//
// Uses: the invariant checker proves that every leaf is found this way,
// and the kernel's monitor can show who maps a frame. Reclaim and swap
// would be the next users.

extension UserAddressSpace {
    /// The addresses in this space at which the reverse map finds `frame`
    /// mapped: the regions of its recorded owner that hold its index and
    /// whose leaf, present or parked, maps exactly it.
    public func reverseMappings(of frame: PhysicalAddress) -> [VirtualAddress] {
        let (owner, index) = table.frames.reverseMapping(of: frame)
        guard owner != 0 else { return [] }
        var found: [VirtualAddress] = []
        for region in regions where Self.regionIsOwned(region, by: owner)
            && index >= region.pageOffset && index - region.pageOffset < UInt64(region.pageCount) {
            let address = region.start + (index - region.pageOffset) * pageSize
            if table.translate(address) == frame || table.parkedFrame(at: address) == frame {
                found.append(address)
            }
        }
        return found
    }

    /// True if the reverse map may lead to this space for a frame of
    /// `owner`: a member of its lineage, or a mapper of its shared object
    /// or file.
    public func mayMap(owner: UInt64) -> Bool {
        regions.contains { region in
            guard Self.regionIsOwned(region, by: owner) else { return false }
            guard let lineage = region.lineage, lineage.identity == owner else { return true }
            return lineage.members.contains(identity)
        }
    }

    /// True if `region`'s pages may record `owner` in the reverse map: its
    /// lineage (private pages), or the object it maps frames of as they
    /// are (a shared object, a file's page cache).
    static func regionIsOwned(_ region: Region, by owner: UInt64) -> Bool {
        region.lineage?.identity == owner || region.backing.objectIdentity == owner
    }
}
