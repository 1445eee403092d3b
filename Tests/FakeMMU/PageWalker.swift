// The hardware's 4-level page walk, in software (Intel SDM vol. 3A §4.5,
// reserved bits per tables 4-14 to 4-20, access rights per §4.6).
//
// Design: written independently of KernelCore's PageTableTree (it uses
// only PageTableEntry's bit constants), so that a walk bug in the kernel
// code is not mirrored here. The walk returns the combined rights over all
// levels: R/W and U/S are ANDed, XD is ORed (only when EFER.NXE=1; with
// NXE=0 bit 63 is reserved instead). Permission rules live in
// `AccessRights.fault(...)`, apart from the walk, because the TLB model
// applies them to cached rights as well.

import KernelCore

/// What a translation grants, combined over every level.
public struct AccessRights: Equatable, Sendable {
    public var writable: Bool
    public var user: Bool
    public var executable: Bool

    /// The registers §4.6 consults.
    public struct Controls: Sendable {
        public var writeProtect: Bool     // CR0.WP
        public var smep: Bool             // CR4.SMEP
        public var smap: Bool             // CR4.SMAP
        public var noExecuteEnabled: Bool // EFER.NXE
        public var alignmentCheck: Bool   // RFLAGS.AC
    }

    /// Nil if the access is allowed, else the #PF error code of the
    /// protection violation (P=1), per SDM §4.6.1 and §4.7.
    public func fault(_ kind: AccessKind, _ mode: PrivilegeMode, _ controls: Controls) -> PageFaultErrorCode? {
        let allowed: Bool
        switch (mode, kind) {
        case (.user, .read):
            allowed = user
        case (.user, .write):
            allowed = user && writable
        case (.user, .execute):
            allowed = user && executable
        case (.supervisor, .read):
            allowed = !(user && controls.smap && !controls.alignmentCheck)
        case (.supervisor, .write):
            allowed = !(user && controls.smap && !controls.alignmentCheck) && (writable || !controls.writeProtect)
        case (.supervisor, .execute):
            allowed = !(user && controls.smep) && executable
        }
        if allowed { return nil }
        return PageFaultErrorCode.forAccess(kind, mode, controls).union(.present)
    }
}

extension PageFaultErrorCode {
    /// The W/R, U/S and I/D bits describing an access (SDM §4.7: I/D is
    /// reported for fetches when NXE=1 or SMEP=1).
    public static func forAccess(_ kind: AccessKind, _ mode: PrivilegeMode,
                                 _ controls: AccessRights.Controls) -> PageFaultErrorCode {
        var code: PageFaultErrorCode = []
        if kind == .write { code.insert(.write) }
        if mode == .user { code.insert(.user) }
        if kind == .execute && (controls.noExecuteEnabled || controls.smep) { code.insert(.instructionFetch) }
        return code
    }
}

/// A successful walk.
public struct Translation: Equatable, Sendable {
    /// First linear (canonical) address of the page.
    public var virtualPage: UInt64
    /// Physical address of that page.
    public var physicalPage: UInt64
    public var pageBytes: UInt64
    public var rights: AccessRights
    /// G on the leaf.
    public var global: Bool
    /// Physical address of the leaf entry (for A/D updates).
    public var leafEntryAddress: UInt64
    /// Physical addresses of the non-leaf entries used.
    public var upperEntryAddresses: [UInt64]
}

public enum WalkOutcome: Equatable, Sendable {
    case translated(Translation)
    case notPresent
    case reservedBitSet
}

public struct PageWalker {
    public let memory: SimulatedPhysicalMemory
    /// MAXPHYADDR: address bits at and above it are reserved.
    public let physicalAddressBits: UInt64
    public let noExecuteEnabled: Bool

    private static let maximumPhysicalAddressBits: UInt64 = 52
    private static let entriesPerTable: UInt64 = 512
    private static let indexMask: UInt64 = entriesPerTable - 1
    /// Bits 29:13 of a 1 GiB leaf and 20:13 of a 2 MiB leaf are reserved (tables 4-16, 4-18).
    private static let largePageReservedLowBit: UInt64 = 13

    public init(memory: SimulatedPhysicalMemory, physicalAddressBits: UInt64, noExecuteEnabled: Bool) {
        self.memory = memory
        self.physicalAddressBits = physicalAddressBits
        self.noExecuteEnabled = noExecuteEnabled
    }

    private func bits(_ low: UInt64, through high: UInt64) -> UInt64 {
        high < low ? 0 : ((1 << (high - low + 1)) - 1) << low
    }

    /// Reserved bits of a present entry at `level` (4 = PML4 .. 1 = PT).
    private func reservedMask(level: Int, largePage: Bool) -> UInt64 {
        var mask = bits(physicalAddressBits, through: Self.maximumPhysicalAddressBits - 1)
        if !noExecuteEnabled { mask |= PageTableEntry.noExecute }
        if level == 4 { mask |= PageTableEntry.largePage }
        if largePage && level == 3 { mask |= bits(Self.largePageReservedLowBit, through: 29) }
        if largePage && level == 2 { mask |= bits(Self.largePageReservedLowBit, through: 20) }
        return mask
    }

    /// Walks the tables under `root` for `address` (canonical), without side effects.
    public func walk(root: PhysicalAddress, _ address: VirtualAddress) -> WalkOutcome {
        var table = root.raw & PageTableEntry.tableAddressMask
        var rights = AccessRights(writable: true, user: true, executable: true)
        var upper: [UInt64] = []
        for level in stride(from: 4, through: 1, by: -1) {
            let shift = pageShift + 9 * UInt64(level - 1)
            let index = (address.raw >> shift) & Self.indexMask
            let entryAddress = table + index * 8
            let raw = memory.pointer(to: PhysicalAddress(entryAddress)).load(as: UInt64.self)
            if raw & PageTableEntry.present == 0 { return .notPresent }
            let largePage = (level == 2 || level == 3) && raw & PageTableEntry.largePage != 0
            if raw & reservedMask(level: level, largePage: largePage) != 0 { return .reservedBitSet }
            rights.writable = rights.writable && raw & PageTableEntry.writable != 0
            rights.user = rights.user && raw & PageTableEntry.user != 0
            if noExecuteEnabled && raw & PageTableEntry.noExecute != 0 { rights.executable = false }
            if level == 1 || largePage {
                let pageBytes: UInt64 = 1 << shift
                let frameMask = PageTableEntry.tableAddressMask & ~(pageBytes - 1)
                return .translated(Translation(
                    virtualPage: address.raw & ~(pageBytes - 1), physicalPage: raw & frameMask,
                    pageBytes: pageBytes, rights: rights, global: raw & PageTableEntry.global != 0,
                    leafEntryAddress: entryAddress, upperEntryAddresses: upper))
            }
            upper.append(entryAddress)
            table = raw & PageTableEntry.tableAddressMask
        }
        return .notPresent
    }
}
