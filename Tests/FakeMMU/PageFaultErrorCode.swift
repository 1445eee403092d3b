// The vocabulary of the fake MMU: access kinds, privilege, the #PF error
// code (Intel SDM vol. 3A §4.7, figure 4-12) and access outcomes.

import KernelCore

public enum AccessKind: Sendable { case read, write, execute }

/// CPL 3 (user) or CPL 0..2 (supervisor), SDM §4.6.
public enum PrivilegeMode: Sendable { case user, supervisor }

/// The error code a page fault pushes (SDM §4.7).
public struct PageFaultErrorCode: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// 0: the page was not present; 1: a protection (or reserved-bit) violation.
    public static let present = PageFaultErrorCode(rawValue: 1 << 0)
    /// The access was a write.
    public static let write = PageFaultErrorCode(rawValue: 1 << 1)
    /// The access was made in user mode (CPL 3).
    public static let user = PageFaultErrorCode(rawValue: 1 << 2)
    /// A reserved bit was set in a paging-structure entry.
    public static let reservedBit = PageFaultErrorCode(rawValue: 1 << 3)
    /// The access was an instruction fetch (reported when NXE or SMEP is on).
    public static let instructionFetch = PageFaultErrorCode(rawValue: 1 << 4)

    public var description: String {
        let names: [(PageFaultErrorCode, String)] = [(.present, "P"), (.write, "W"), (.user, "U"),
                                                      (.reservedBit, "RSVD"), (.instructionFetch, "I/D")]
        let set = names.filter { contains($0.0) }.map { $0.1 }
        return "#PF(0x\(String(rawValue, radix: 16)) \(set.isEmpty ? "-" : set.joined(separator: "|")))"
    }
}

/// What an access did.
public enum AccessResult: Equatable, CustomStringConvertible {
    /// It reached this physical address.
    case success(PhysicalAddress)
    /// It raised #PF with this error code.
    case pageFault(PageFaultErrorCode)
    /// The address was not canonical (#GP, no walk).
    case generalProtection

    public var description: String {
        switch self {
        case .success(let physical): return "ok(0x\(String(physical.raw, radix: 16)))"
        case .pageFault(let code): return code.description
        case .generalProtection: return "#GP"
        }
    }
}
