// One 64-bit x86-64 paging-structure entry (Intel SDM vol. 3A §4.5,
// tables 4-15 to 4-20), and the geometry of the 4-level hierarchy.
//
// Design: a plain value wrapping the raw bits, with named flags and the
// address masks for each kind of entry. It knows nothing about memory or
// ownership; PageTable and the fake MMU both read entries through it, so the
// bit layout is written down exactly once.
//
// Invariants:
// - Bit 9 (`ownsFrame`, one of the bits the SDM leaves to software) is set
//   only on 4 KiB leaves installed from an `OwnedFrame`: unmap turns exactly
//   those back into `OwnedFrame`s, so an owned frame is never leaked and a
//   borrowed range (kernel image, direct map, MMIO) is never "released".
// - Bit 7 means PS (large page) in PDPT and PD entries, PAT in PT entries,
//   and is reserved in PML4 entries. Only PageTable's level-aware code
//   interprets it.
// - Parked leaves (PROT_NONE pages that keep their frame, Linux's
//   _PAGE_PROTNONE): a 4 KiB entry with P=0, bit 10 (`parked`) set,
//   `ownsFrame` set and the frame number kept. With P=0 the CPU ignores
//   bits 63:1 (SDM §4.5: such an entry "is used neither to reference
//   another paging-structure entry nor to map a page"; figure 4-11), so
//   any access faults and the bits are ours. Like an owning present leaf
//   it holds one frame reference and one map count. Its frame number is
//   stored inverted, as Linux stores every non-present frame number
//   (arch/x86/include/asm/pgtable-invert.h), so that an L1 Terminal Fault
//   speculative load through it (which ignores P) aims above physical
//   memory; `address(at:)` undoes that, so readers see the real frame.
//   Parked entries exist only in level-1 tables; every other non-present
//   entry is zero. No access rights are kept: unparking takes them from
//   the region (Linux mprotect's pte_modify).

/// The four levels of 4-level paging, named by what they point to.
public enum PagingLevel: Int, Comparable {
    case pageTable = 1          // PT: entries map 4 KiB pages
    case pageDirectory = 2      // PD: entries map 2 MiB pages or point to a PT
    case pageDirectoryPointer = 3 // PDPT: entries map 1 GiB pages or point to a PD
    case pml4 = 4               // PML4: entries point to a PDPT

    /// Entries per table at every level.
    public static let entriesPerTable = 512
    /// Bits of the linear address each level indexes.
    public static let indexBits: UInt64 = 9

    /// Bytes of linear address one entry at this level covers.
    public var entryCoverage: UInt64 { 1 << shift }
    /// Position of this level's index in a linear address.
    public var shift: UInt64 { pageShift + PagingLevel.indexBits * UInt64(rawValue - 1) }
    /// The level below, or nil for the page table.
    public var next: PagingLevel? { PagingLevel(rawValue: rawValue - 1) }
    /// True where the PS bit makes an entry a large-page leaf (SDM §4.5, tables 4-16 and 4-18).
    public var allowsLargePage: Bool { self == .pageDirectory || self == .pageDirectoryPointer }

    /// The index of `linear` (a 48-bit linear address) in a table of this level.
    public func index(of linear: UInt64) -> Int {
        Int((linear >> shift) & UInt64(PagingLevel.entriesPerTable - 1))
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// The page sizes 4-level paging can map.
public enum PageSize: Equatable {
    case size4KiB, size2MiB, size1GiB

    public var bytes: UInt64 { leafLevel.entryCoverage }
    /// The level whose entries are leaves of this size.
    public var leafLevel: PagingLevel {
        switch self {
        case .size4KiB: return .pageTable
        case .size2MiB: return .pageDirectory
        case .size1GiB: return .pageDirectoryPointer
        }
    }
    /// The size of a leaf found at `level`.
    public init(leafAt level: PagingLevel) {
        switch level {
        case .pageTable: self = .size4KiB
        case .pageDirectory: self = .size2MiB
        case .pageDirectoryPointer, .pml4: self = .size1GiB
        }
    }
}

/// A paging-structure entry (SDM §4.5, tables 4-14 to 4-20).
public struct PageTableEntry: Equatable, Sendable {
    public var raw: UInt64

    public static let present: UInt64 = 1 << 0
    public static let writable: UInt64 = 1 << 1        // R/W
    public static let user: UInt64 = 1 << 2            // U/S
    public static let writeThrough: UInt64 = 1 << 3    // PWT
    public static let cacheDisable: UInt64 = 1 << 4    // PCD
    public static let accessed: UInt64 = 1 << 5        // A (set by the CPU)
    public static let dirty: UInt64 = 1 << 6           // D (set by the CPU, leaves only)
    public static let largePage: UInt64 = 1 << 7       // PS in PDPT/PD entries
    public static let global: UInt64 = 1 << 8          // G (leaves only, needs CR4.PGE)
    /// Software bit (SDM: ignored by the CPU): this 4 KiB leaf owns a frame reference.
    public static let ownsFrame: UInt64 = 1 << 9
    /// Software bit: with P=0, a parked leaf (see the header: PROT_NONE
    /// keeping its frame). Bits 9..11 are free in present entries too, so
    /// the bit means the same whatever P says.
    public static let parked: UInt64 = 1 << 10
    public static let noExecute: UInt64 = 1 << 63      // XD (needs EFER.NXE, else reserved)

    /// Physical address bits of a 4 KiB leaf or of a pointer to a table: 12..51.
    public static let tableAddressMask: UInt64 = 0x000F_FFFF_FFFF_F000
    /// Bit 12 of a large-page leaf is PAT, not address (SDM tables 4-16, 4-18).
    public static let largePagePAT: UInt64 = 1 << 12

    /// The bits PageProtection controls on a leaf: the rest (address, A, D,
    /// PS, PAT, ownership) are kept when permissions change.
    public static let protectionBits: UInt64 =
        writable | user | writeThrough | cacheDisable | global | noExecute

    /// The flags of an entry that points to a next-level table. Permissive on
    /// purpose (P, R/W, U/S, executable): the leaf alone decides the effective
    /// rights, as Linux does for user page tables (`_PAGE_TABLE`).
    public static let tableLinkFlags: UInt64 = present | writable | user
    /// The flags of a kernel-half PML4 entry (KernelMemory sets them after
    /// building the kernel's tables): no U/S, so nothing below it can ever
    /// be user-accessible, whatever a leaf says (Linux `_KERNPG_TABLE`).
    public static let kernelTableLinkFlags: UInt64 = present | writable

    public init(raw: UInt64) { self.raw = raw }
    public static let empty = PageTableEntry(raw: 0)

    /// An entry pointing to the next-level table at `table`.
    public static func link(to table: PhysicalAddress) -> PageTableEntry {
        PageTableEntry(raw: (table.raw & tableAddressMask) | tableLinkFlags)
    }

    /// The bits a leaf keeps when it is parked or unparked: besides the
    /// frame and ownership, the accessed and dirty history (Linux
    /// _PAGE_CHG_MASK keeps A and D across pte_modify).
    static let keptWhenParking: UInt64 = ownsFrame | accessed | dirty

    /// This owning 4 KiB leaf parked: P=0, `parked`, the frame inverted.
    /// Contract: a present 4 KiB leaf with `ownsFrame`.
    public var parkedLeaf: PageTableEntry {
        let frame = address(at: .pageTable).raw
        return PageTableEntry(raw: (~frame & Self.tableAddressMask) | (raw & Self.keptWhenParking) | Self.parked)
    }

    /// This parked leaf made present again with `protection`'s bits.
    /// Contract: `isParked`, `protection.isRepresentable`.
    public func unparked(_ protection: PageProtection) -> PageTableEntry {
        PageTableEntry(raw: address(at: .pageTable).raw | (raw & Self.keptWhenParking)
                       | protection.entryBits | Self.present)
    }

    /// A parked leaf owning `frame`, with no access history (fork's copy).
    public static func parked(owning frame: PhysicalAddress) -> PageTableEntry {
        PageTableEntry(raw: (~frame.raw & tableAddressMask) | ownsFrame | parked)
    }

    public var isPresent: Bool { raw & Self.present != 0 }
    public var isEmpty: Bool { raw == 0 }
    public var isWritable: Bool { raw & Self.writable != 0 }
    public var isUser: Bool { raw & Self.user != 0 }
    public var isGlobal: Bool { raw & Self.global != 0 }
    public var isNoExecute: Bool { raw & Self.noExecute != 0 }
    public var hasLargePageBit: Bool { raw & Self.largePage != 0 }
    public var ownsFrame: Bool { raw & Self.ownsFrame != 0 }
    /// True for a parked leaf (P=0 and the `parked` mark).
    public var isParked: Bool { raw & (Self.present | Self.parked) == Self.parked }

    /// True if this entry, found at `level`, maps a page instead of pointing to a table.
    public func isLeaf(at level: PagingLevel) -> Bool {
        level == .pageTable || (level.allowsLargePage && hasLargePageBit)
    }

    /// True if this leaf, replacing `old`, only adds rights: the same bits
    /// except that it may be writable where `old` was not and executable
    /// where `old` was not. A TLB entry cached from `old` then allows less
    /// than this leaf, never more (no invalidation owed, SDM §4.10.4.3).
    public func grantsEverything(of old: PageTableEntry) -> Bool {
        let widening = Self.writable | Self.noExecute
        return (raw ^ old.raw) & ~widening == 0
            && old.raw & ~raw & Self.writable == 0
            && raw & ~old.raw & Self.noExecute == 0
    }

    /// The physical address this entry holds, read as an entry at `level`
    /// (a table pointer, a page of the leaf's size, or a parked leaf's
    /// frame, its inversion undone).
    public func address(at level: PagingLevel) -> PhysicalAddress {
        if isParked { return PhysicalAddress(~raw & Self.tableAddressMask) }
        if isLeaf(at: level) && level != .pageTable {
            return PhysicalAddress(raw & Self.tableAddressMask & ~(level.entryCoverage - 1))
        }
        return PhysicalAddress(raw & Self.tableAddressMask)
    }
}
