// Portable page permissions, and their translation to x86-64 leaf bits.
//
// Design: what the rest of the kernel asks for (read, write, execute, user,
// global, uncached), independent of the PTE layout. x86-64 cannot express a
// present page that is not readable, nor write-only (SDM §4.6): such
// requests are refused with `PagingError.unsupportedProtection` instead of
// silently widened. "No access" is expressed by unmapping, or by parking
// an owning leaf (P=0, the frame kept: PageTableEntry.swift).
//
// `uncached` is a memory type rather than a permission (PCD|PWT: strong
// uncacheable with the default PAT, SDM §11.12); it rides here because MMIO
// mappings need it together with their permissions.

public struct PageProtection: OptionSet, Equatable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = PageProtection(rawValue: 1 << 0)
    public static let write = PageProtection(rawValue: 1 << 1)
    public static let execute = PageProtection(rawValue: 1 << 2)
    /// Accessible from CPL 3.
    public static let user = PageProtection(rawValue: 1 << 3)
    /// Survives CR3 reloads in the TLB (kernel mappings shared by every space).
    public static let global = PageProtection(rawValue: 1 << 4)
    /// Uncacheable (MMIO).
    public static let uncached = PageProtection(rawValue: 1 << 5)

    public static let kernelReadOnly: PageProtection = [.read]
    public static let kernelReadWrite: PageProtection = [.read, .write]
    public static let kernelCode: PageProtection = [.read, .execute]
    public static let userReadOnly: PageProtection = [.read, .user]
    public static let userReadWrite: PageProtection = [.read, .write, .user]
    public static let userCode: PageProtection = [.read, .execute, .user]

    /// True if x86-64 paging can express this protection (readable, since
    /// every present page is).
    public var isRepresentable: Bool { contains(.read) }

    /// The leaf bits for this protection (without P, address or PS).
    /// Contract: `isRepresentable`.
    public var entryBits: UInt64 {
        var bits: UInt64 = 0
        if contains(.write) { bits |= PageTableEntry.writable }
        if contains(.user) { bits |= PageTableEntry.user }
        if !contains(.execute) { bits |= PageTableEntry.noExecute }
        if contains(.global) { bits |= PageTableEntry.global }
        if contains(.uncached) { bits |= PageTableEntry.cacheDisable | PageTableEntry.writeThrough }
        return bits
    }

    /// The protection a present leaf grants by itself (intermediate entries
    /// are permissive, see PageTableEntry.tableLinkFlags).
    public init(leaf entry: PageTableEntry) {
        var protection: PageProtection = [.read]
        if entry.isWritable { protection.insert(.write) }
        if entry.isUser { protection.insert(.user) }
        if !entry.isNoExecute { protection.insert(.execute) }
        if entry.isGlobal { protection.insert(.global) }
        if entry.raw & PageTableEntry.cacheDisable != 0 { protection.insert(.uncached) }
        self = protection
    }
}
