// The objects behind non-anonymous regions (Region.backing).
//
// SharedMemory is Linux's shmem file behind MAP_SHARED|MAP_ANONYMOUS: a
// page index -> frame map, filled on demand by the fault path, holding one
// reference per page. Every region that maps it holds the object (Swift
// reference counting), so the object and its frames live exactly as long
// as some mapping does, across fork; its deinit hands the frames back.
//
// FileContents, an archive file with its page cache, is in PageCache.swift.
//
// Design: final classes, not protocol existentials (Embedded Swift allows
// only class-bound existentials, and the region enum is not generic). The
// frame provider is held as `any FrameProvider` for the same reason: the
// object must release its frames from deinit, whatever space drops it last.

/// The reverse map's handle on private pages (Linux's anon_vma, flattened
/// to one per lineage): a private region gets one at its first fault (a
/// region without one merges with any compatible neighbour, and takes its
/// lineage); fork gives the child's copies of the regions the same one. Each anonymous
/// frame records the lineage's identity and its page index
/// (FrameInfo.owner, .index); the frame is then mapped, if at all, at
/// `region.start + (index - region.pageOffset) * 4096` in regions of this
/// lineage, in the spaces listed in `members` (ReverseMap.swift).
public final class AnonLineage {
    /// The identities of the spaces that may map its pages (a superset:
    /// a space leaves at teardown, not when it unmaps a region).
    public private(set) var members: [UInt64]

    public init(member: UInt64) { members = [member] }

    public func add(_ space: UInt64) { if !members.contains(space) { members.append(space) } }
    public func remove(_ space: UInt64) { members.removeAll { $0 == space } }

    /// The lineage's identity in the reverse map (FrameInfo.owner).
    public var identity: UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())) }
}

/// MAP_SHARED|MAP_ANONYMOUS memory: pages shared by every mapping.
public final class SharedMemory {
    /// Page index -> frame, for the pages touched so far.
    public private(set) var pages = PageIndexMap()
    /// Where the frames go back.
    private let frames: any FrameProvider
    /// The object's size in pages (mmap's length); faults beyond it are
    /// SIGBUS, as for a shmem file.
    public let pageCount: UInt64

    public init(pageCount: UInt64, frames: any FrameProvider) {
        self.pageCount = pageCount
        self.frames = frames
    }

    /// The frame of page `index`, allocated (zeroed) at the first request;
    /// nil when out of memory. The object keeps its own reference; the
    /// caller gets none (it shares one for each leaf it installs).
    /// Contract: index < pageCount.
    public func page(_ index: UInt64) -> PhysicalAddress? {
        if let frame = pages[index] { return frame }
        guard let frame = frames.allocateFrame(kind: .user) else { return nil }
        let address = frame.intoRaw()
        frames.setReverseMapping(of: address, owner: identity, index: index)
        frames.setFlags(.sharedMemory, of: address)  // the RSS counters' shmem pages
        pages[index] = address
        return address
    }

    /// The object's identity in the reverse map (FrameInfo.owner).
    public var identity: UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())) }

    deinit {
        for (_, frame) in pages { frames.releaseFrame(OwnedFrame(adopting: frame)) }
    }
}
