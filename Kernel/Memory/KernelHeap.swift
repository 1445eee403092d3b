// KernelHeap: the allocator behind posix_memalign/free, which Swift's
// classes, arrays and strings use.
//
// Design (a small cousin of Linux's SLUB):
//  - The heap owns one virtual window [base, base + pageCount pages).
//  - Requests up to `largestSlabBlock` bytes are served from slabs: one page
//    cut into equal blocks of a power-of-two size class (16 ... 2048). A
//    block is aligned to its size, so alignment requests fold into the size.
//  - Larger requests take a run of whole pages.
//  - Per-page bookkeeping lives beside the window (`HeapPageInfo`), never in
//    the pages themselves, so a 2048-byte class wastes nothing and a stray
//    write into a block cannot corrupt the allocator's own state.
//  - Pages are committed (backed by a frame) when first used and decommitted
//    when the last block on them is freed, so memory goes back to the frame
//    allocator. The first `permanentPages` are backed by the kernel image's
//    bss and never decommitted: they let Swift allocate before paging is up.
//
// Invariants:
//  - A page is in a class's partial list iff it is a slab with
//    0 < inUse < capacity.
//  - `committed` is true for every page in use, and for every page below
//    `permanentPages`.
//  - Nothing here allocates: it is the allocator.
//
// Not thread safe: the kernel runs it with interrupts off or on one CPU.

/// Supplies memory for heap pages.
public protocol HeapBacking {
    /// Backs the page at `address` with memory. Returns false when out of memory.
    mutating func commit(page address: UInt64) -> Bool
    /// Returns the memory behind the page at `address`.
    mutating func decommit(page address: UInt64)
}

/// Bookkeeping for one page of the heap window.
public struct HeapPageInfo {
    public enum Kind: UInt8 { case free = 0, slab, runHead, runTail }
    var kind: Kind = .free
    var committed: Bool = false
    var classIndex: UInt8 = 0
    var unused: UInt8 = 0
    /// Slab: blocks handed out. Run head: pages in the run.
    var count: UInt32 = 0
    /// Slab: head of the freed-block list (block index + 1, 0 = empty).
    var freeHead: UInt16 = 0
    /// Slab: blocks never handed out start at this index.
    var fresh: UInt16 = 0
    /// Slab: neighbours in the partial list (page index + 1, 0 = none).
    var next: UInt32 = 0
}

public enum HeapFailure: Equatable {
    case outOfMemory
    case freeOutsideHeap(UInt64)
    case freeOfUnusedMemory(UInt64)
    case misalignedFree(UInt64)
}

public struct KernelHeap<Backing: HeapBacking> {
    public static var pageSize: Int { 4096 }
    public static var smallestBlock: Int { 16 }
    public static var largestSlabBlock: Int { 2048 }
    static var classCount: Int { 8 }  // 16, 32, ..., 2048

    public let base: UInt64
    public let pageCount: Int
    public let permanentPages: Int
    public var backing: Backing

    private let pages: UnsafeMutablePointer<HeapPageInfo>
    /// Per size class: first partial slab (page index + 1, 0 = none).
    private let partialHeads: UnsafeMutablePointer<UInt32>
    private var searchHint = 0

    /// Bytes handed out, counted in whole blocks and pages.
    public private(set) var bytesInUse = 0
    public private(set) var committedPages = 0
    /// What the last failed or rejected call found wrong, for the caller to report.
    public private(set) var lastFailure: HeapFailure? = nil

    /// Bytes of metadata storage `init` needs for a window of `pageCount` pages.
    public static func metadataBytes(pageCount: Int) -> Int {
        pageCount * MemoryLayout<HeapPageInfo>.stride + classCount * MemoryLayout<UInt32>.stride
    }

    /// A heap over [base, base + pageCount pages). `metadata` must hold
    /// `metadataBytes(pageCount:)` bytes and outlive the heap. The first
    /// `permanentPages` pages must already be backed.
    public init(base: UInt64, pageCount: Int, permanentPages: Int,
                metadata: UnsafeMutableRawPointer, backing: Backing) {
        precondition(base % UInt64(Self.pageSize) == 0 && permanentPages <= pageCount)
        self.base = base
        self.pageCount = pageCount
        self.permanentPages = permanentPages
        self.backing = backing
        pages = metadata.bindMemory(to: HeapPageInfo.self, capacity: pageCount)
        let headsAddress = metadata + pageCount * MemoryLayout<HeapPageInfo>.stride
        partialHeads = headsAddress.bindMemory(to: UInt32.self, capacity: Self.classCount)
        for i in 0..<pageCount {
            pages[i] = HeapPageInfo()
            pages[i].committed = i < permanentPages
        }
        for c in 0..<Self.classCount { partialHeads[c] = 0 }
        committedPages = permanentPages
    }

    // MARK: Allocation

    /// Returns `size` bytes aligned to `alignment` (a power of two, at most a
    /// page), or nil when out of memory.
    public mutating func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        let need = max(max(size, 1), alignment)
        if alignment > Self.pageSize || alignment & (alignment - 1) != 0 { return nil }
        if need <= Self.largestSlabBlock {
            return allocateBlock(classIndex: Self.classIndex(for: need))
        }
        let count = (need + Self.pageSize - 1) / Self.pageSize
        guard let first = allocatePages(count) else { lastFailure = .outOfMemory; return nil }
        pages[first].kind = .runHead
        pages[first].count = UInt32(count)
        for i in (first + 1)..<(first + count) { pages[i].kind = .runTail }
        bytesInUse += count * Self.pageSize
        return address(ofPage: first)
    }

    /// Frees what `allocate` returned. A pointer the heap did not hand out is
    /// rejected (returns false, `lastFailure` says why) and nothing changes.
    @discardableResult
    public mutating func free(_ pointer: UnsafeMutableRawPointer) -> Bool {
        let address = UInt64(UInt(bitPattern: pointer))
        guard address >= base, address < base + UInt64(pageCount * Self.pageSize) else {
            lastFailure = .freeOutsideHeap(address); return false
        }
        let offset = Int(address - base)
        let page = offset / Self.pageSize
        switch pages[page].kind {
        case .slab:
            let size = Self.blockSize(classIndex: Int(pages[page].classIndex))
            let inPage = offset % Self.pageSize
            guard inPage % size == 0 else { lastFailure = .misalignedFree(address); return false }
            guard UInt16(inPage / size) < pages[page].fresh, pages[page].count > 0 else {
                lastFailure = .freeOfUnusedMemory(address); return false
            }
            freeBlock(page: page, index: inPage / size, size: size)
            return true
        case .runHead:
            guard offset % Self.pageSize == 0 else { lastFailure = .misalignedFree(address); return false }
            let count = Int(pages[page].count)
            for i in page..<(page + count) { releasePage(i) }
            bytesInUse -= count * Self.pageSize
            return true
        case .free, .runTail:
            lastFailure = .freeOfUnusedMemory(address); return false
        }
    }

    // MARK: Slabs

    static func classIndex(for size: Int) -> Int {
        var index = 0
        var block = smallestBlock
        while block < size { block <<= 1; index += 1 }
        return index
    }

    static func blockSize(classIndex: Int) -> Int { smallestBlock << classIndex }

    private mutating func allocateBlock(classIndex c: Int) -> UnsafeMutableRawPointer? {
        let size = Self.blockSize(classIndex: c)
        let capacity = Self.pageSize / size
        var page: Int
        if partialHeads[c] != 0 {
            page = Int(partialHeads[c]) - 1
        } else {
            guard let fresh = allocatePages(1) else { lastFailure = .outOfMemory; return nil }
            page = fresh
            pages[page].kind = .slab
            pages[page].classIndex = UInt8(c)
            pages[page].count = 0
            pages[page].freeHead = 0
            pages[page].fresh = 0
            pushPartial(page: page, classIndex: c)
        }
        let block: Int
        if pages[page].freeHead != 0 {
            block = Int(pages[page].freeHead) - 1
            let link = address(ofPage: page) + block * size
            pages[page].freeHead = link.load(as: UInt16.self)
        } else {
            block = Int(pages[page].fresh)
            pages[page].fresh += 1
        }
        pages[page].count += 1
        if Int(pages[page].count) == capacity { popPartial(classIndex: c) }
        bytesInUse += size
        return address(ofPage: page) + block * size
    }

    private mutating func freeBlock(page: Int, index: Int, size: Int) {
        let c = Int(pages[page].classIndex)
        let capacity = Self.pageSize / size
        let wasFull = Int(pages[page].count) == capacity
        let link = address(ofPage: page) + index * size
        link.storeBytes(of: pages[page].freeHead, as: UInt16.self)
        pages[page].freeHead = UInt16(index + 1)
        pages[page].count -= 1
        bytesInUse -= size
        if wasFull { pushPartial(page: page, classIndex: c) }
        if pages[page].count == 0 {
            removePartial(page: page, classIndex: c)
            releasePage(page)
        }
    }

    private mutating func pushPartial(page: Int, classIndex c: Int) {
        pages[page].next = partialHeads[c]
        partialHeads[c] = UInt32(page + 1)
    }

    private mutating func popPartial(classIndex c: Int) {
        let head = Int(partialHeads[c]) - 1
        partialHeads[c] = pages[head].next
        pages[head].next = 0
    }

    /// Unlinks `page` from its partial list. The lists are short (one entry
    /// per partially used page of a class), so a walk is fine.
    private mutating func removePartial(page: Int, classIndex c: Int) {
        if Int(partialHeads[c]) == page + 1 { popPartial(classIndex: c); return }
        var current = Int(partialHeads[c])
        while current != 0 {
            if Int(pages[current - 1].next) == page + 1 {
                pages[current - 1].next = pages[page].next
                pages[page].next = 0
                return
            }
            current = Int(pages[current - 1].next)
        }
    }

    // MARK: Pages

    private func address(ofPage index: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(base) + UInt(index * Self.pageSize))!
    }

    /// Finds `count` free pages in a row (first fit from a hint) and commits them.
    private mutating func allocatePages(_ count: Int) -> Int? {
        var start = -1
        for pass in 0..<2 {
            var run = 0
            let from = pass == 0 ? searchHint : 0
            var i = from
            while i < pageCount {
                if pages[i].kind == .free {
                    run += 1
                    if run == count { start = i - count + 1; break }
                } else {
                    run = 0
                }
                i += 1
            }
            if start >= 0 || from == 0 { break }
        }
        guard start >= 0 else { return nil }
        for i in start..<(start + count) where !pages[i].committed {
            if !backing.commit(page: UInt64(UInt(bitPattern: address(ofPage: i)))) {
                // Undo the pages committed so far by this call.
                for j in start..<i where j >= permanentPages && pages[j].committed {
                    backing.decommit(page: UInt64(UInt(bitPattern: address(ofPage: j))))
                    pages[j].committed = false
                    committedPages -= 1
                }
                return nil
            }
            pages[i].committed = true
            committedPages += 1
        }
        searchHint = start + count
        return start
    }

    private mutating func releasePage(_ index: Int) {
        pages[index] = HeapPageInfo(committed: pages[index].committed)
        if index >= permanentPages && pages[index].committed {
            backing.decommit(page: UInt64(UInt(bitPattern: address(ofPage: index))))
            pages[index].committed = false
            committedPages -= 1
        }
        if index < searchHint { searchHint = index }
    }
}

extension HeapPageInfo {
    init(committed: Bool) { self.init(); self.committed = committed }
}
