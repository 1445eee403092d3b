// PageTableSnapshot: every entry reachable from a root, for "the state is
// exactly as before" assertions (rollback, refused operations).
//
// Design: keyed by the entry's physical address, so two snapshots are equal
// only if the same tables hold the same bits — a table freed and
// re-allocated elsewhere shows up as a difference.

import KernelCore

public struct PageTableSnapshot: Equatable {
    public private(set) var entries: [UInt64: UInt64] = [:]

    /// Reads the hierarchy under `root` in `memory`.
    public init(memory: some PhysicalMemory, root: PhysicalAddress) {
        record(memory, table: root.raw, level: 4)
    }

    private mutating func record(_ memory: some PhysicalMemory, table: UInt64, level: Int) {
        let pointer = memory.pointer(to: PhysicalAddress(table))
        for index in 0..<512 {
            let raw = pointer.load(fromByteOffset: index * 8, as: UInt64.self)
            if raw == 0 { continue }
            entries[table + UInt64(index) * 8] = raw
            let isLeaf = level == 1 || ((level == 2 || level == 3) && raw & PageTableEntry.largePage != 0)
            if raw & PageTableEntry.present != 0 && !isLeaf {
                record(memory, table: raw & PageTableEntry.tableAddressMask, level: level - 1)
            }
        }
    }

    /// The number of reachable page-table pages holding at least one entry.
    public var tableCount: Int {
        Set(entries.keys.map { $0 & ~(pageSize - 1) }).count
    }
}
