// The page cache: each archive file's pages in frames, at most one frame
// per page, shared by every mapping that only reads it (Linux: the
// inode's address_space, mm/filemap.c filemap_fault; Asterinas Vmo pages).
//
// Why frames at all: the boot archive is in RAM already, but a ustar
// member starts on a 512-byte boundary, not on a page, so its bytes cannot
// be mapped in place; the cache holds page-aligned copies, made at the
// first fault on each page.
//
// Design:
// - FileContents is one file: its bytes (in the boot archive, never freed,
//   so they outlive every mapping) and its cache, page index -> frame.
// - Reads of a private file mapping, and every access of a shared one, map
//   the cache frame read-only (UserAddressSpace+Fault.swift). A private
//   write gives the mapping its own copy: of the cache frame its leaf
//   maps (do_wp_page), or, for a page with no leaf yet, straight from the
//   file's bytes (Linux reads the page into the cache first, do_cow_fault
//   -> __do_fault; here the bytes are in memory already, so a page that is
//   only ever written costs no cache frame). The cache frame is never
//   written after it is filled.
// - PageCache is the kernel's table of files (Linux's inode cache): the
//   same bytes always give the same FileContents, so one file has one
//   cache however many times it is opened, mapped or executed.
//
// Lifetime of the frames (decision; Linux keeps page cache until reclaim):
// - A FileContents in a PageCache lives for the boot, and keeps its frames
//   when the last mapping goes, so the next exec of a program finds its
//   text cached. `reclaim()` hands back the frames no leaf maps (the
//   kernel calls it when a fault finds no free frame: Linux's reclaim of
//   clean, unmapped page cache); `dropAll()` at shutdown, once every space
//   is gone and before the frame-baseline check (Linux's drop_caches), so
//   that the check counts the cache's frames explicitly instead of calling
//   them a leak or leaving them out.
// - A FileContents in no PageCache (host tests) hands its frames back in
//   deinit, when the last region mapping it goes (regions hold it).
//
// Invariants:
// 1. `pages[i]` exists only for i < pageCount. Its frame holds page i of
//    the file, zero past the end of the file, and is never written again.
// 2. The cache holds one reference on each of its frames: reference count
//    = 1 + map count. The frame is a .user frame whose reverse mapping is
//    (the file's identity, i) (ReverseMap.swift); no leaf maps it writable.
// 3. A PageCache hands out one FileContents per file.
// VMInvariantChecker.swift checks 1's bound and 2.

/// An archive file and its page cache.
public final class FileContents {
    public let bytes: UnsafeRawBufferPointer
    /// Page index -> the cache's frame (invariants 1 and 2).
    public private(set) var pages = PageIndexMap()
    /// Where the frames come from and go back.
    private let frames: any FrameProvider

    /// Contract: `bytes` stay valid and unchanged for the object's life.
    public init(bytes: UnsafeRawBufferPointer, frames: any FrameProvider) {
        self.bytes = bytes
        self.frames = frames
    }

    /// The file's size in pages, the last one partial (Linux: a page that
    /// starts at or beyond the end of the file gives SIGBUS).
    public var pageCount: UInt64 { (UInt64(bytes.count) + pageSize - 1) / pageSize }

    /// The object's identity in the reverse map (FrameInfo.owner).
    public var identity: UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())) }

    /// The cache frame of page `index`, filled from the file at the first
    /// request (Linux filemap_fault: find the folio, else read it in); nil
    /// when out of memory. The cache keeps its reference; the caller gets
    /// none (it shares one for each leaf it installs).
    /// Contract: index < pageCount.
    public func cachedPage<Memory: PhysicalMemory>(_ index: UInt64, memory: Memory) -> PhysicalAddress? {
        precondition(index < pageCount, "page-cache request past the end of the file")
        if let frame = pages[index] { return frame }
        guard let frame = frames.allocateFrame(kind: .user) else { return nil }
        copyPage(index, to: memory.pointer(to: frame.address))
        let address = frame.intoRaw()
        frames.setReverseMapping(of: address, owner: identity, index: index)
        pages[index] = address
        return address
    }

    /// Copies page `index` of the file into `destination` (4 KiB, already
    /// zeroed: bytes past the end of the file stay zero).
    /// Contract: index < pageCount.
    public func copyPage(_ index: UInt64, to destination: UnsafeMutableRawPointer) {
        let start = Int(index * pageSize)
        let count = Swift.min(Int(pageSize), bytes.count - start)
        // SAFETY: start < bytes.count (index < pageCount) and count bytes
        // from there lie inside `bytes`; the destination is one frame.
        destination.copyMemory(from: bytes.baseAddress! + start, byteCount: count)
    }

    /// Hands back the cache frames no leaf maps (reference count 1: the
    /// cache's own); returns how many. Mapped pages stay (Linux's reclaim
    /// would unmap them through the reverse map first; nothing here needs that).
    @discardableResult
    public func dropUnmappedPages() -> Int {
        var dropped: [UInt64] = []
        for (index, frame) in pages where frames.referenceCount(of: frame) == 1 { dropped.append(index) }
        for index in dropped { frames.releaseFrame(OwnedFrame(adopting: pages.removeValue(forKey: index)!)) }
        return dropped.count
    }

    /// Hands back every cache frame, mapped or not (its leaves keep their
    /// own references); returns how many were still mapped.
    func dropAllPages() -> Int {
        var mapped = 0
        for (_, frame) in pages {
            if frames.referenceCount(of: frame) != 1 { mapped += 1 }
            frames.releaseFrame(OwnedFrame(adopting: frame))
        }
        pages.removeAll()
        return mapped
    }

    deinit { _ = dropAllPages() }
}

/// The kernel's files and their caches (invariant 3).
public final class PageCache {
    /// Every file handed out so far, in order (a boot archive has tens).
    public private(set) var files: [FileContents] = []
    private let frames: any FrameProvider

    public init(frames: any FrameProvider) { self.frames = frames }

    /// The one FileContents of the file whose bytes are `bytes` (the same
    /// archive member, so the same start and length). Cost: O(files).
    public func file(_ bytes: UnsafeRawBufferPointer) -> FileContents {
        for file in files where file.bytes.baseAddress == bytes.baseAddress && file.bytes.count == bytes.count {
            return file
        }
        let file = FileContents(bytes: bytes, frames: frames)
        files.append(file)
        return file
    }

    /// The frames the caches hold.
    public var frameCount: Int { files.reduce(0) { $0 + $1.pages.count } }

    /// Hands back every cache frame no leaf maps; returns how many.
    @discardableResult
    public func reclaim() -> Int { files.reduce(0) { $0 + $1.dropUnmappedPages() } }

    /// Empties every cache (shutdown, once no space is left, before the
    /// frame-baseline check). Returns the frames handed back and how many
    /// of them some leaf still mapped (0 unless a space outlived shutdown).
    public func dropAll() -> (released: Int, stillMapped: Int) {
        let released = frameCount
        let mapped = files.reduce(0) { $0 + $1.dropAllPages() }
        return (released, mapped)
    }
}
