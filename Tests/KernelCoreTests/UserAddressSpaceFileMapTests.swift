// Host tests of file mappings and may-permissions (issue [5]): the page
// cache (Kernel/VM/PageCache.swift) shared by every reader, private writes
// copying it, shared mappings of read-only files refused PROT_WRITE with
// EACCES at mmap and at mprotect (Linux do_mmap, do_mprotect_pkey), the
// tail of the last page and SIGBUS past the end, and the merge rules of
// Region.canMerge against a page-by-page model.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceFileMapTests {
    static let base: UInt64 = 0x4000_0000
    static func page(_ index: UInt64) -> UInt64 { base + index * pageSize }

    /// Maps `pages` pages of `file` from file page `offset` at page `at`.
    static func mapFile(_ space: inout TestSpace, _ machine: PagingMachine, _ backing: RegionBacking, at: UInt64,
                        pages: UInt64, offset: UInt64 = 0, _ protection: VMProtection) throws(VMError) {
        _ = try space.map(MapRequest(address: VirtualAddress(page(at)), length: pages * pageSize,
                                     protection: protection, fixed: true, backing: backing, pageOffset: offset),
                          tlb: machine.mmu)
    }

    // MARK: may-permissions

    /// MAP_SHARED of a file opened read-only with PROT_WRITE: EACCES, and
    /// nothing changes, not even under MAP_FIXED over an existing mapping.
    @Test func writableSharedFileMappingIsEACCESAndChangesNothing() throws {
        let bytes = TestFile(patternedBytes: 3 * Int(pageSize))
        try withSpace { space, _, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            try space.mapFixed(Self.page(0), pages: 2, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 0x55, at: Self.page(0))
            let regions = space.regions
            for protection: VMProtection in [.readWrite, [.write], .all] {
                #expect(throws: VMError.permissionDenied) {
                    try Self.mapFile(&space, machine, .sharedFile(file), at: 0, pages: 2, protection)
                }
                #expect(throws: VMError.permissionDenied) {
                    _ = try space.map(MapRequest(length: pageSize, protection: protection, backing: .sharedFile(file),
                                                 pageOffset: 0), tlb: machine.mmu)
                }
            }
            #expect(space.regions == regions, "the old mapping stays")
            #expect(space.userLoad(machine, Self.page(0)) == 0x55)
            #expect(VMError.permissionDenied.errno == 13, "EACCES")
        }
    }

    /// A read-only shared file mapping loses may-write: mprotect(PROT_WRITE)
    /// is EACCES, anything else within may-read|may-exec is fine.
    @Test func sharedFileMappingMayNeverBecomeWritable() throws {
        let bytes = TestFile(patternedBytes: 2 * Int(pageSize))
        try withSpace { space, _, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            try Self.mapFile(&space, machine, .sharedFile(file), at: 0, pages: 2, .read)
            #expect(space.regions.map(\.mayProtection) == [.readExecute], "VM_MAYWRITE cleared")
            #expect(space.userLoad(machine, Self.page(1)) == bytes.word(Int(pageSize)))
            let whole = VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(2))
            for protection: VMProtection in [.readWrite, [.write], .all] {
                #expect(throws: VMError.permissionDenied) { try space.protect(whole, to: protection, tlb: machine.mmu) }
            }
            #expect(space.regions.map(\.protection) == [.read], "a refused mprotect changes nothing")
            try space.protect(VirtualAddress(Self.page(1))..<VirtualAddress(Self.page(2)), to: .readExecute,
                              tlb: machine.mmu)
            #expect(space.userExecute(machine, Self.page(1)) == true)
            try space.protect(whole, to: .noAccess, tlb: machine.mmu)
            try space.protect(whole, to: .read, tlb: machine.mmu)
            #expect(space.regions.count == 1, "pieces merged back")
            #expect(space.userLoad(machine, Self.page(0)) == bytes.word(0), "the file's bytes again")
            #expect(space.userAccess(Self.page(0), .write, machine) == .fault(.accessDenied), "SIGSEGV on a write")
        }
    }

    /// mprotect's errors come in address order, as Linux's VMA walk finds
    /// them: the first hole is ENOMEM, the first region that may not is EACCES.
    @Test func mprotectRefusalsComeInAddressOrderAndChangeNothing() throws {
        let bytes = TestFile(patternedBytes: Int(pageSize))
        try withSpace { space, _, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            try space.mapFixed(Self.page(0), pages: 1, .read, tlb: machine.mmu)
            try Self.mapFile(&space, machine, .sharedFile(file), at: 1, pages: 1, .read)
            try space.mapFixed(Self.page(3), pages: 1, .read, tlb: machine.mmu)
            let regions = space.regions
            func protect(_ pages: Range<UInt64>) -> VMError? {
                do throws(VMError) {
                    try space.protect(VirtualAddress(Self.page(pages.lowerBound))..<VirtualAddress(Self.page(pages.upperBound)),
                                      to: .readWrite, tlb: machine.mmu)
                    return nil
                } catch {
                    return error
                }
            }
            #expect(protect(0..<2) == .permissionDenied, "anonymous, then the shared file")
            #expect(protect(1..<4) == .permissionDenied, "the shared file before the hole")
            #expect(protect(2..<4) == .notMapped, "the hole before anything")
            #expect(protect(0..<1) == nil)
            try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(1)), to: .read, tlb: machine.mmu)
            #expect(space.regions == regions)
        }
    }

    // MARK: the page cache

    /// MAP_PRIVATE of a file may become writable; the write copies the page
    /// and every other mapping, private or shared, in this space or another,
    /// still sees the file (the cache frame is never written).
    @Test func privateFileMappingBecomesWritableWithCopyOnWrite() throws {
        let bytes = TestFile(patternedBytes: 2 * Int(pageSize))
        try withSpace { space, kernel, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            try Self.mapFile(&space, machine, .privateFile(file), at: 0, pages: 2, .read)
            try Self.mapFile(&space, machine, .sharedFile(file), at: 4, pages: 2, .read)
            #expect(space.userAccess(Self.page(0), .read, machine).fixes == [.file])
            let cached = try #require(file.pages[0])
            #expect(space.frame(at: Self.page(0)) == cached.raw, "a read maps the cache frame")
            #expect(space.userAccess(Self.page(0), .write, machine) == .fault(.accessDenied))
            try space.protect(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(2)), to: .readWrite,
                              tlb: machine.mmu)
            #expect(space.frame(at: Self.page(0)) == cached.raw, "mprotect leaves the cache leaf read-only")
            #expect(space.userAccess(Self.page(0), .write, machine).fixes == [.copyOnWrite])
            #expect(space.userStore(machine, 0xABCD, at: Self.page(0)) == true)
            #expect(space.frame(at: Self.page(0)) != cached.raw)
            #expect(space.userAccess(Self.page(1), .write, machine).fixes == [.fileCopy], "untouched: do_cow_fault")
            #expect(file.pages[1] == nil, "a page only ever written costs no cache frame")
            #expect(space.userLoad(machine, Self.page(4)) == bytes.word(0), "the shared mapping sees the file")
            #expect(space.frame(at: Self.page(4)) == cached.raw)
            try withSecondSpace(kernel, machine) { other in
                try Self.mapFile(&other, machine, .privateFile(file), at: 0, pages: 2, .readWrite)
                #expect(other.userLoad(machine, Self.page(0)) == bytes.word(0), "another process sees the file")
                #expect(other.frame(at: Self.page(0)) == cached.raw)
                checkInvariants(machine, "two spaces") { checker throws(VMInvariantViolation) in
                    try checker.add(space)
                    try checker.add(other)
                }
            }
            #expect(bytes.word(0) != 0xABCD, "the file is unchanged")
        }
    }

    /// Two spaces mapping one file share its frames; the cache holds one
    /// reference per page and keeps the page when the mappings go, until
    /// reclaimed; the frames all come back (withSpace checks the baseline).
    @Test func twoSpacesShareTheCacheFrameAndTheCacheOutlivesTheMappings() throws {
        let bytes = TestFile(patternedBytes: 3 * Int(pageSize))
        try withSpace { space, kernel, machine in
            let cache = PageCache(frames: machine.frames)
            let file = cache.file(bytes.bytes)
            #expect(cache.file(bytes.bytes) === file, "one FileContents per file")
            #expect(cache.file(UnsafeRawBufferPointer(rebasing: bytes.bytes[0..<10])) !== file, "another file")
            try Self.mapFile(&space, machine, .privateFile(file), at: 0, pages: 3, .readExecute)
            try withSecondSpace(kernel, machine) { other in
                try Self.mapFile(&other, machine, .sharedFile(file), at: 10, pages: 3, .read)
                for index: UInt64 in 0..<3 {
                    #expect(space.userExecute(machine, Self.page(index)) == true)
                    #expect(other.userLoad(machine, Self.page(10 + index)) == bytes.word(Int(index * pageSize)))
                    let frame = try #require(file.pages[index])
                    #expect(space.frame(at: Self.page(index)) == frame.raw && other.frame(at: Self.page(10 + index)) == frame.raw)
                    #expect(machine.frames.referenceCount(of: frame) == 3 && machine.frames.mapCount(of: frame) == 2)
                    #expect(space.reverseMappings(of: frame) == [VirtualAddress(Self.page(index))])
                    #expect(other.reverseMappings(of: frame) == [VirtualAddress(Self.page(10 + index))])
                }
                #expect(machine.userFrames == 3, "three frames for six leaves")
                checkInvariants(machine, "shared cache") { checker throws(VMInvariantViolation) in
                    try checker.add(space)
                    try checker.add(other)
                }
                try other.unmap(VirtualAddress(Self.page(10))..<VirtualAddress(Self.page(13)), tlb: machine.mmu)
            }
            try space.unmap(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(1)), tlb: machine.mmu)
            #expect(file.pages.count == 3 && machine.userFrames == 3, "the cache keeps unmapped pages")
            checkInvariants(machine, "cache outlives its mappings") { checker throws(VMInvariantViolation) in
                try checker.add(space)
                checker.add(cache)
            }
            #expect(cache.frameCount == 3)
            #expect(cache.reclaim() == 1, "only the page no leaf maps")
            #expect(file.pages[0] == nil && machine.userFrames == 2)
            checkInvariants(machine, "after reclaim") { checker throws(VMInvariantViolation) in
                try checker.add(space)
                checker.add(cache)
            }
            try space.unmap(VirtualAddress(Self.page(0))..<VirtualAddress(Self.page(3)), tlb: machine.mmu)
            #expect(cache.dropAll() == (released: 2, stillMapped: 0))
            #expect(machine.userFrames == 0)
        }
    }

    /// Shared file mappings: the tail of the last page reads as zero, a page
    /// wholly past the end is SIGBUS; fork does not copy shared leaves, the
    /// child faults the same cache frame in.
    @Test func sharedFileTailIsZeroPastTheEndIsSIGBUSAndForkShares() throws {
        let bytes = TestFile(patternedBytes: Int(pageSize) + 100)
        try withSpace { space, kernel, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            try Self.mapFile(&space, machine, .sharedFile(file), at: 0, pages: 3, .read)
            let lastFour = (0..<4).reduce(UInt64(0)) { $0 | UInt64(bytes.bytes[Int(pageSize) + 96 + $1]) << (8 * $1) }
            #expect(space.userLoad(machine, Self.page(1) + 96) == lastFour, "the last 4 bytes of the file, then zeros")
            #expect(space.userLoad(machine, Self.page(1) + 104) == 0)
            #expect(space.userLoad(machine, Self.page(1) + pageSize - 8) == 0)
            #expect(space.userAccess(Self.page(2), .read, machine) == .fault(.beyondEnd))
            #expect(space.userAccess(Self.page(0), .write, machine) == .fault(.accessDenied))
            #expect(throws: VMError.notMapped, "the kernel cannot force a write either") {
                try space.kernelStore(machine, 1, at: Self.page(0))
            }
            try withFork(of: &space, kernel: kernel, machine) { space, child in
                #expect(child.residentPages == 0, "shared leaves are not copied")
                #expect(child.userLoad(machine, Self.page(0)) == bytes.word(0))
                #expect(child.frame(at: Self.page(0)) == file.pages[0]?.raw)
                #expect(child.userAccess(Self.page(2), .read, machine) == .fault(.beyondEnd))
            }
        }
    }

    /// A fault that needs a frame for the cache and finds none is out of
    /// memory; nothing is cached then, and the retry succeeds.
    @Test func cacheFillOutOfMemory() throws {
        let bytes = TestFile(patternedBytes: Int(pageSize))
        try withSpace { space, _, machine in
            let file = FileContents(bytes: bytes.bytes, frames: machine.frames)
            try Self.mapFile(&space, machine, .privateFile(file), at: 0, pages: 1, .read)
            try space.mapFixed(Self.page(1), pages: 1, .readWrite, tlb: machine.mmu)
            space.userStore(machine, 1, at: Self.page(1))   // the page table exists now: only the cache needs a frame
            machine.frames.failAllAllocations = true
            #expect(space.userAccess(Self.page(0), .read, machine) == .fault(.outOfMemory))
            machine.frames.failAllAllocations = false
            #expect(file.pages.isEmpty && space.residentPages == 1)
            #expect(space.userLoad(machine, Self.page(0)) == bytes.word(0))
        }
    }

    // MARK: merge rules against a model

    /// One page as the model sees it: what Region.canMerge compares.
    struct ModelPage: Equatable {
        var kind: RegionKind
        /// 0: private anonymous; otherwise which object (file/shared) and how.
        var backing: Int
        var index: UInt64
        var protection: VMProtection
        var may: VMProtection
        /// Which map or mprotect made the page's region: pages of a kind
        /// that never merges (the stack) are one region only if one call
        /// made them so.
        var origin: Int
    }

    /// The regions a page model must give: maximal runs of pages that are
    /// adjacent, of one mergeable kind, one backing, one protection and
    /// may-protection, with consecutive backing indices.
    static func expectedRuns(_ model: [UInt64: ModelPage]) -> [(Range<UInt64>, ModelPage)] {
        var runs: [(Range<UInt64>, ModelPage)] = []
        for page in model.keys.sorted() {
            let value = model[page]!
            if let last = runs.last, last.0.upperBound == page, value.kind == last.1.kind,
               value.kind.isMergeable || value.origin == last.1.origin,
               value.backing == last.1.backing, value.protection == last.1.protection, value.may == last.1.may,
               value.index == last.1.index + UInt64(last.0.count) {
                runs[runs.count - 1].0 = last.0.lowerBound..<page + 1
            } else {
                runs.append((page..<page + 1, value))
            }
        }
        return runs
    }

    /// Random MAP_FIXED of anonymous memory, private and shared mappings of
    /// two files at random offsets, shared memory, in random kinds and
    /// protections, mprotect and munmap over a small window, no page ever
    /// touched (so no lineage): after every step the regions must be
    /// exactly the maximal mergeable runs of the model, and refusals must
    /// be the model's (EACCES for a shared file made writable).
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func mergeAndSplitMatchTheModel(seed: UInt64) throws {
        let fileBytes = [TestFile(patternedBytes: 16 * Int(pageSize)), TestFile(patternedBytes: 16 * Int(pageSize))]
        try withSpace { space, _, machine in
            var random = SplitMix64(seed: seed)
            let files = fileBytes.map { FileContents(bytes: $0.bytes, frames: machine.frames) }
            let shmem = SharedMemory(pageCount: 16, frames: machine.frames)
            let window: UInt64 = 12
            var model: [UInt64: ModelPage] = [:]
            let protections: [VMProtection] = [.read, .readWrite, .readExecute, .noAccess]
            let kinds: [RegionKind] = [.anonymous, .anonymous, .image, .heap, .stack]
            for step in 0..<400 {
                let first = random.next() % window
                let count = 1 + random.next() % Swift.min(4, window - first)
                let pages = first..<first + count
                let range = VirtualAddress(Self.page(first))..<VirtualAddress(Self.page(first + count))
                let protection = protections[Int(random.next() % 4)]
                switch random.next() % 4 {
                case 0, 1:   // map
                    let kind = kinds[Int(random.next() % UInt64(kinds.count))]
                    let choice = Int(random.next() % 6)
                    let offset = random.next() % 4
                    let backing: RegionBacking
                    let may: VMProtection
                    switch choice {
                    case 0, 1: backing = .privateAnonymous; may = .all
                    case 2, 3: backing = .privateFile(files[choice - 2]); may = .all
                    case 4: backing = .sharedFile(files[0]); may = .readExecute
                    default: backing = .shared(shmem); may = .all
                    }
                    let request = MapRequest(address: range.lowerBound, length: count * pageSize, protection: protection,
                                             kind: kind, fixed: true, backing: backing,
                                             pageOffset: choice == 0 || choice == 1 ? nil : offset)
                    do throws(VMError) {
                        _ = try space.map(request, tlb: machine.mmu)
                        #expect(may.isSuperset(of: protection), "step \(step): map should have been refused")
                        for (i, page) in pages.enumerated() {
                            let index = choice <= 1 ? (Self.page(page) >> pageShift) : offset + UInt64(i)
                            model[page] = ModelPage(kind: kind, backing: choice <= 1 ? 0 : choice, index: index,
                                                    protection: protection, may: may, origin: step)
                        }
                    } catch {
                        #expect(error == .permissionDenied && !may.isSuperset(of: protection), "step \(step): \(error)")
                    }
                case 2:   // mprotect
                    let covered = pages.allSatisfy { model[$0] != nil }
                    let allowed = pages.allSatisfy { model[$0].map { $0.may.isSuperset(of: protection) } ?? true }
                    var firstRefusal: VMError? = nil
                    for page in pages {
                        guard let value = model[page] else { firstRefusal = .notMapped; break }
                        if !value.may.isSuperset(of: protection) { firstRefusal = .permissionDenied; break }
                    }
                    do throws(VMError) {
                        try space.protect(range, to: protection, tlb: machine.mmu)
                        #expect(covered && allowed, "step \(step): mprotect should have been refused")
                        for page in pages {
                            // Each region's piece is a region of its own (a stack is split even
                            // by an mprotect that changes nothing: Linux returns early there).
                            model[page]!.protection = protection
                            model[page]!.origin = model[page]!.origin &* 1_000_003 &+ step
                        }
                    } catch {
                        #expect(error == firstRefusal, "step \(step): \(error), expected \(String(describing: firstRefusal))")
                    }
                default:  // munmap
                    try space.unmap(range, tlb: machine.mmu)
                    for page in pages { model[page] = nil }
                }
                let runs = Self.expectedRuns(model)
                let regions = space.regions
                #expect(regions.count == runs.count, "step \(step): \(regions.map { "\($0.start.raw >> 12 & 0xff)-\($0.end.raw >> 12 & 0xff) \($0.kind) \($0.backing.name) @\($0.pageOffset & 0xff) p\($0.protection.rawValue) m\($0.mayProtection.rawValue)" }), model \(runs.map { "\($0.0) \($0.1)" })")
                for (region, run) in zip(regions, runs) {
                    #expect(region.range == VirtualAddress(Self.page(run.0.lowerBound))..<VirtualAddress(Self.page(run.0.upperBound))
                            && region.protection == run.1.protection && region.mayProtection == run.1.may
                            && region.kind == run.1.kind && region.pageOffset == run.1.index,
                            "step \(step): region \(region.range) vs model \(run.0)")
                }
                if regions.count != runs.count { break }
            }
        }
    }
}
