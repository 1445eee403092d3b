// The vocabulary of the fake MMU: access kinds, privilege, how a #PF error
// code (Kernel/Arch/x86_64/Paging/PageFaultErrorCode.swift) reads in test
// output, and access outcomes.

import KernelCore

public enum AccessKind: Sendable { case read, write, execute }

/// CPL 3 (user) or CPL 0..2 (supervisor), SDM §4.6.
public enum PrivilegeMode: Sendable { case user, supervisor }

extension PageFaultErrorCode: CustomStringConvertible {
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
