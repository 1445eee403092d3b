// TableReserve: page-table pages allocated before an operation changes
// anything, so that the operation itself cannot fail half-way.
//
// Design: a map first counts the page-table pages it will need (walking
// without writing), allocates all of them here, and only then edits the
// tables. An allocation failure therefore releases what was reserved and
// leaves the tables untouched: rollback is "never start". The reserved
// frames are chained through their own first word (they are free memory
// until used), so the reserve needs no heap; the word is zeroed again when a
// frame is taken, because page-table pages must start all-empty.
//
// Invariant: `releaseAll` (or taking every frame) before the reserve goes
// away; its deinit traps otherwise, like OwnedFrame's.

struct TableReserve: ~Copyable {
    private static let endOfChain: UInt64 = 0
    private var head: UInt64 = TableReserve.endOfChain
    private(set) var count = 0

    init() {}

    /// Allocates `count` zeroed page-table pages from `frames`, or none at all
    /// (releasing the ones it got) and throws `.outOfMemory`.
    init<Frames: FrameProvider>(count wanted: Int, frames: Frames,
                                memory: some PhysicalMemory) throws(PagingError) {
        for _ in 0..<wanted {
            guard let frame = frames.allocateFrame(kind: .pageTable) else {
                releaseAll(to: frames, memory: memory)
                throw .outOfMemory
            }
            let address = frame.intoRaw()
            memory.pointer(to: address).storeBytes(of: head, as: UInt64.self)
            head = address.raw
            count += 1
        }
    }

    /// A zeroed page-table page. Contract: `count > 0`.
    mutating func take(memory: some PhysicalMemory) -> PhysicalAddress {
        precondition(count > 0, "page-table reserve exhausted: the preflight count was wrong")
        let address = PhysicalAddress(head)
        let pointer = memory.pointer(to: address)
        head = pointer.load(as: UInt64.self)
        pointer.storeBytes(of: 0, as: UInt64.self)
        count -= 1
        return address
    }

    /// Gives every frame still reserved back to `frames`.
    mutating func releaseAll<Frames: FrameProvider>(to frames: Frames, memory: some PhysicalMemory) {
        while count > 0 {
            frames.releaseFrame(OwnedFrame(adopting: take(memory: memory)))
        }
    }

    deinit {
        if count != 0 { fatalError("page-table reserve dropped with frames in it: a frame leak") }
    }
}
