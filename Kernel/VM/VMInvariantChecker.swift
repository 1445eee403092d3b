// VMInvariantChecker: proves the VM's invariants on live address spaces
// (UserAddressSpace.swift, invariants 2-4, and the counting rules of
// FrameProvider). Test builds run it: the host tests after every step of
// their models, the kernel (command-line flag `vmcheck`) after every
// syscall and resolved fault on what that event touched, and on every
// space at every fork, exec and exit and at a settable interval.
//
// "Leaf" below means a present leaf or a parked one (PROT_NONE keeping
// its frame: P=0, PageTableEntry.swift); both hold a reference and a map
// count, and both are resident.
// Rules, each reported by name with the address and the frame:
// - leaf outside region:    every user leaf lies in a region...
// - leaf exceeds region:    ...whose protection allows what the leaf does
//                           (write needs write, execute needs execute);
// - parked leaf accessible: parked leaves lie in PROT_NONE regions only
//                           (and present ones never do: the rule above);
// - leaf not user/owning:   user leaves are 4 KiB and own their frame;
//                           present ones have U=1 and not G;
// - writable shared cow:    a writable leaf of a private region maps a
//                           frame marked exclusive that exactly one leaf maps;
// - exclusive frame shared: a frame marked exclusive that a private leaf
//                           maps (present or parked) has exactly one map:
//                           raising a parked page's protection trusts it;
// - reverse map:            a leaf's frame (the zero page aside) records the
//                           owner and index the reverse map walks from to
//                           this leaf: its region's lineage (which lists
//                           this space), shared object or file, and the
//                           page's index (ReverseMap.swift); with the map
//                           count rule, the walk finds exactly the leaves;
// - region index:           (full check) the region tree's invariants
//                           (RegionTree.swift) and the list's (RegionList:
//                           sorted, disjoint, merged, at most maxCount);
// - reference count:        refCount == mapCount + other holders (the shared
//                           object or page cache holding the page, the zero
//                           page's own);
// - page cache:             (full check) a cached page lies inside its file
//                           and its frame records (file, index)
//                           (PageCache.swift, invariants 1 and 2);
// - map count:              (full check) mapCount == the leaves mapping it
//                           in all spaces;
// - user frames leaked:     (full check) every user frame is mapped by a
//                           leaf, held by a shared object or a page cache,
//                           or the zero page (the caches are those of the
//                           regions seen, and those `add`ed explicitly);
// - resident pages:         (full check) residentPages == the space's
//                           leaves, parked ones included (as Linux's RSS).
// - resident kind:          an anonymous frame (FrameFlags.anonymous) is
//                           mapped only in private regions, a shared
//                           object's page only in shared ones;
// - mapped pages:           (full check) counters.totalPages, dataPages and
//                           stackPages == the regions' pages of each kind;
// - rss counters:           (full check) counters.anonymousPages, filePages
//                           and sharedPages == the leaves by the kind of
//                           their frame, parked ones included
//                           (MemoryAccounting.swift).
//
// Cost: a touched check is O(pages touched · log regions): it looks each
// leaf's region up in the index, never copies the region list; a full
// check is O(leaves · log leaves + regions) over every space, so the
// kernel runs it only at the events above (after every event it would make large tests quadratic).

public struct VMInvariantViolation: Error, Equatable {
    public let rule: StaticString
    public let address: VirtualAddress
    public let frame: PhysicalAddress

    public static func == (a: Self, b: Self) -> Bool {
        a.rule.description == b.rule.description && a.address == b.address && a.frame == b.frame
    }
}

public struct VMInvariantChecker<Memory: PhysicalMemory, Frames: FrameProvider> {
    let frames: Frames
    /// The frame of every leaf seen so far (one entry per leaf).
    private var mapped: [UInt64] = []
    /// The shared objects seen so far (each once).
    private var objects: [SharedMemory] = []
    /// The files (page caches) seen so far (each once).
    private var files: [FileContents] = []

    public init(frames: Frames) { self.frames = frames }

    /// Counts `file`'s cached frames as held (a file no region maps any more).
    public mutating func add(file: FileContents) {
        if !files.contains(where: { $0 === file }) { files.append(file) }
    }

    /// Counts every cache of `cache` as held (the kernel's table of files).
    public mutating func add(_ cache: PageCache) {
        for file in cache.files { add(file: file) }
    }

    /// Checks the per-space rules over every leaf of `space` and records its
    /// leaves and objects for `finish`.
    public mutating func add(_ space: borrowing UserAddressSpace<Memory, Frames>) throws(VMInvariantViolation) {
        var leaves = 0
        var recount = MemoryCounters()
        var failure: VMInvariantViolation? = nil
        let regionList = space.regionList
        guard regionList.isValid() else {
            throw VMInvariantViolation(rule: "region index", address: VirtualAddress(UInt64(regionList.count)),
                                       frame: PhysicalAddress(0))
        }
        let frames = self.frames
        space.table.forEachLeaf(in: UserMemoryLayout.userStart..<UserMemoryLayout.userEnd,
                                includingParked: true) { address, entry in
            leaves += 1
            mapped.append(entry.address(at: .pageTable).raw)
            recount.addResident(ResidentKind.of(entry.address(at: .pageTable), frames))
            if failure == nil {
                failure = Self.checkLeaf(address, entry, region: regionList.region(containing: address),
                                         frames: frames, space: space.identity)
            }
        }
        if let failure { throw failure }
        for region in regionList.regions {
            if case .shared(let object) = region.backing, !objects.contains(where: { $0 === object }) {
                objects.append(object)
            }
            if let file = region.backing.file { add(file: file) }
        }
        guard leaves == space.residentPages else {
            throw VMInvariantViolation(rule: "resident pages", address: VirtualAddress(UInt64(leaves)),
                                       frame: PhysicalAddress(UInt64(space.residentPages)))
        }
        for region in regionList.regions { recount.addRegion(region) }
        try Self.checkCounters(space.counters, recount)
    }

    /// The counter rules: `counters` (the space's) against `recount`.
    /// Reports the first differing counter as (recounted, kept) in the
    /// address and frame fields.
    static func checkCounters(_ counters: MemoryCounters, _ recount: MemoryCounters) throws(VMInvariantViolation) {
        let mapped = [(recount.totalPages, counters.totalPages), (recount.dataPages, counters.dataPages),
                      (recount.stackPages, counters.stackPages)]
        let resident = [(recount.anonymousPages, counters.anonymousPages), (recount.filePages, counters.filePages),
                        (recount.sharedPages, counters.sharedPages)]
        for (expected, kept) in mapped where expected != kept {
            throw VMInvariantViolation(rule: "mapped pages", address: VirtualAddress(UInt64(bitPattern: Int64(expected))),
                                       frame: PhysicalAddress(UInt64(bitPattern: Int64(kept))))
        }
        for (expected, kept) in resident where expected != kept {
            throw VMInvariantViolation(rule: "rss counters", address: VirtualAddress(UInt64(bitPattern: Int64(expected))),
                                       frame: PhysicalAddress(UInt64(bitPattern: Int64(kept))))
        }
    }

    /// The cross-space rules over everything `add` saw. `userFrames`, if
    /// given, is the number of user frames the allocator has handed out.
    public mutating func finish(userFrames: Int? = nil) throws(VMInvariantViolation) {
        mapped.sort()
        var held: [UInt64] = []
        for object in objects { for (_, frame) in object.pages { held.append(frame.raw) } }
        for file in files {
            for (index, frame) in file.pages {
                let (owner, recorded) = frames.reverseMapping(of: frame)
                guard index < file.pageCount, owner == file.identity, recorded == index else {
                    throw VMInvariantViolation(rule: "page cache", address: VirtualAddress(index), frame: frame)
                }
                held.append(frame.raw)
            }
        }
        held.sort()
        let zero = frames.zeroFrame.raw
        var distinct = 0
        var index = 0, heldIndex = 0
        while index < mapped.count {
            let frame = mapped[index]
            var count = 0
            while index < mapped.count && mapped[index] == frame { count += 1; index += 1 }
            distinct += 1
            while heldIndex < held.count && held[heldIndex] < frame { heldIndex += 1 }
            let isHeld = heldIndex < held.count && held[heldIndex] == frame
            let address = PhysicalAddress(frame)
            guard frames.mapCount(of: address) == UInt32(count) else {
                throw VMInvariantViolation(rule: "map count", address: VirtualAddress(UInt64(count)), frame: address)
            }
            let holders: UInt32 = (isHeld ? 1 : 0) + (frame == zero ? 1 : 0)
            guard frames.referenceCount(of: address) == UInt32(count) + holders else {
                throw VMInvariantViolation(rule: "reference count", address: VirtualAddress(UInt64(count)),
                                           frame: address)
            }
        }
        for frame in held where frames.mapCount(of: PhysicalAddress(frame)) == 0 {
            let address = PhysicalAddress(frame)
            if frames.referenceCount(of: address) != 1 {
                throw VMInvariantViolation(rule: "reference count", address: VirtualAddress(0), frame: address)
            }
        }
        if let userFrames {
            var unmappedHeld = 0
            for frame in held where frames.mapCount(of: PhysicalAddress(frame)) == 0 { unmappedHeld += 1 }
            let zeroUnmapped = frames.mapCount(of: PhysicalAddress(zero)) == 0 ? 1 : 0
            guard userFrames == distinct + unmappedHeld + zeroUnmapped else {
                throw VMInvariantViolation(rule: "user frames leaked", address: VirtualAddress(UInt64(userFrames)),
                                           frame: PhysicalAddress(UInt64(distinct + unmappedHeld + zeroUnmapped)))
            }
        }
        mapped.removeAll()
        objects.removeAll()
        files.removeAll()
    }

    /// The rules that need only what an event touched: the leaves of
    /// `range` in `space`, and the reference counts of their frames.
    public static func checkTouched(_ space: borrowing UserAddressSpace<Memory, Frames>,
                                    _ range: Range<VirtualAddress>, frames: Frames) throws(VMInvariantViolation) {
        let start = Swift.max(range.lowerBound, UserMemoryLayout.userStart)
        let end = Swift.min(range.upperBound, UserMemoryLayout.userEnd)
        guard start < end else { return }
        var failure: VMInvariantViolation? = nil
        let regionList = space.regionList
        let zero = frames.zeroFrame
        space.table.forEachLeaf(in: start..<end, includingParked: true) { address, entry in
            guard failure == nil else { return }
            let region = regionList.region(containing: address)
            if let broken = checkLeaf(address, entry, region: region, frames: frames, space: space.identity) {
                failure = broken
                return
            }
            let frame = entry.address(at: .pageTable)
            var holders: UInt32 = frame == zero ? 1 : 0
            if let region {
                let index = region.pageIndex(of: address)
                if case .shared(let object) = region.backing, object.pages[index] == frame { holders += 1 }
                if let file = region.backing.file, file.pages[index] == frame { holders += 1 }
            }
            let mapCount = frames.mapCount(of: frame)
            if mapCount == 0 || frames.referenceCount(of: frame) != mapCount + holders {
                failure = VMInvariantViolation(rule: "reference count", address: address, frame: frame)
            }
        }
        if let failure { throw failure }
    }

    /// The per-leaf rules; `region` is the one containing `address`, if any.
    static func checkLeaf(_ address: VirtualAddress, _ entry: PageTableEntry, region: Region?,
                          frames: Frames, space: UInt64) -> VMInvariantViolation? {
        let frame = entry.address(at: .pageTable)
        guard let region else {
            return VMInvariantViolation(rule: "leaf outside region", address: address, frame: frame)
        }
        guard entry.ownsFrame, entry.isParked || (entry.isUser && !entry.isGlobal) else {
            return VMInvariantViolation(rule: "leaf not user/owning", address: address, frame: frame)
        }
        let allowed = region.protection
        if entry.isParked {
            if allowed.allowsAccess {
                return VMInvariantViolation(rule: "parked leaf accessible", address: address, frame: frame)
            }
        } else if !allowed.allowsAccess || (entry.isWritable && !allowed.contains(.write))
            || (!entry.isNoExecute && !allowed.contains(.execute)) {
            return VMInvariantViolation(rule: "leaf exceeds region", address: address, frame: frame)
        }
        if entry.isWritable && region.backing.isPrivate
            && (frame == frames.zeroFrame || !frames.flags(of: frame).contains(.anonExclusive)
                || frames.mapCount(of: frame) != 1) {
            return VMInvariantViolation(rule: "writable shared cow", address: address, frame: frame)
        }
        let kind = ResidentKind.of(frame, frames)
        if (kind == .anonymous && !region.backing.isPrivate) || (kind == .shared && region.backing.isPrivate) {
            return VMInvariantViolation(rule: "resident kind", address: address, frame: frame)
        }
        if region.backing.isPrivate && frame != frames.zeroFrame
            && frames.flags(of: frame).contains(.anonExclusive) && frames.mapCount(of: frame) != 1 {
            return VMInvariantViolation(rule: "exclusive frame shared", address: address, frame: frame)
        }
        if frame != frames.zeroFrame {
            let (owner, index) = frames.reverseMapping(of: frame)
            let memberOK = region.lineage.map { $0.identity != owner || $0.members.contains(space) } ?? true
            guard UserAddressSpace<Memory, Frames>.regionIsOwned(region, by: owner),
                  index == region.pageIndex(of: address), memberOK else {
                return VMInvariantViolation(rule: "reverse map", address: address, frame: frame)
            }
        }
        return nil
    }
}
