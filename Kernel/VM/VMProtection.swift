// VMProtection: what a process asked for with mmap/mprotect (PROT_READ,
// PROT_WRITE, PROT_EXEC), kept in its regions as asked, like Linux keeps
// VM_READ/VM_WRITE/VM_EXEC in vm_flags.
//
// Design: the hardware cannot express every request (x86-64, SDM vol. 3A
// §4.6): a present page is always readable, so write-only and execute-only
// requests are widened to include read when the pages are mapped, as Linux
// does on x86 (protection_map in arch/x86/mm/pgprot.c). "No access"
// (PROT_NONE) cannot be a present page at all: such pages have no
// present entry; a page that was touched keeps its frame in a parked,
// non-present one (Linux _PAGE_PROTNONE; UserAddressSpace.swift).

public struct VMProtection: OptionSet, Equatable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = VMProtection(rawValue: 1 << 0)
    public static let write = VMProtection(rawValue: 1 << 1)
    public static let execute = VMProtection(rawValue: 1 << 2)

    /// PROT_NONE (not `.none`, which would read as Optional.none).
    public static let noAccess: VMProtection = []
    public static let readWrite: VMProtection = [.read, .write]
    public static let readExecute: VMProtection = [.read, .execute]
    /// Every access: a new region's may-protection (VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC).
    public static let all: VMProtection = [.read, .write, .execute]

    /// Linux's PROT_* bits (include/uapi/asm-generic/mman-common.h).
    public enum LinuxBits {
        public static let none = 0
        public static let read = 1
        public static let write = 2
        public static let execute = 4
        public static let all = read | write | execute
    }

    /// The protection of a `prot` argument, or nil if it has bits other than
    /// PROT_READ, PROT_WRITE and PROT_EXEC (mmap/mprotect then fail with EINVAL).
    /// PROT_NONE (0) is valid: no access.
    public init?(linuxProtection: Int) {
        guard linuxProtection & ~LinuxBits.all == 0 else { return nil }
        var protection: VMProtection = []
        if linuxProtection & LinuxBits.read != 0 { protection.insert(.read) }
        if linuxProtection & LinuxBits.write != 0 { protection.insert(.write) }
        if linuxProtection & LinuxBits.execute != 0 { protection.insert(.execute) }
        self = protection
    }

    /// True if the pages can be accessed at all (anything but PROT_NONE):
    /// only such pages have present page-table entries.
    public var allowsAccess: Bool { !isEmpty }

    /// What user code can really do with the pages: any access implies read
    /// on x86-64 (a present page is readable).
    public var effective: VMProtection {
        allowsAccess ? union(.read) : []
    }

    /// The page-table protection of the pages: always `.user`, readable,
    /// writable if `.write`, no-execute unless `.execute`.
    /// Contract: `allowsAccess` (PROT_NONE pages are parked; for them
    /// this is `.user` alone, which the page-table code refuses).
    public var pageProtection: PageProtection {
        var protection: PageProtection = [.user]
        if allowsAccess { protection.insert(.read) }
        if contains(.write) { protection.insert(.write) }
        if contains(.execute) { protection.insert(.execute) }
        return protection
    }
}
