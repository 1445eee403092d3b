import HAL

// Self-tests of the security baseline (issue [6]): the protections the
// CPU enforces for the kernel, the entry points ring 3 can reach, and an
// audit of the kernel's page tables.
enum SecurityBaselineTests {
    private static let msrCSTAR: UInt32 = 0xC000_0083
    // Code/data descriptor bits (Intel SDM vol. 3, 3.4.5).
    private static let descriptorExecutable: UInt64 = 1 << 43
    private static let descriptorCodeOrData: UInt64 = 1 << 44
    private static let descriptorPresent: UInt64 = 1 << 47
    private static let descriptorLongMode: UInt64 = 1 << 53
    private static let descriptorPrivilegeShift: UInt64 = 45
    private static let userPrivilege: UInt64 = 3

    static func run(_ t: inout TestRunner) {
        t.test("security.umip-on-where-present") {
            guard CPUFeatures.current.umip else { return nil }
            return hal_read_cr4() & CPUFeatures.cr4UMIP != 0 ? nil : "CPUID has UMIP but CR4.UMIP is off"
        }
        t.test("security.cstar-points-at-the-compat-stub") {
            SyscallMSRs.install()   // as InitProcess does before the first user task
            let cstar = hal_rdmsr(msrCSTAR)
            return cstar == hal_syscall_compat_entry_address() ? nil : "CSTAR is \(hex(cstar))"
        }
        t.test("security.no-32-bit-user-code-segment") {
            // Ring 3 can load only 64-bit code: no way into compatibility mode.
            let gdt = hal_sgdt()
            let count = (Int(gdt.limit) + 1) / 8
            for index in 0..<count {
                // SAFETY: sgdt's base and limit bound the live GDT; index < count.
                let d = UnsafeRawPointer(bitPattern: UInt(gdt.base))!.load(fromByteOffset: index * 8, as: UInt64.self)
                let isUserCode = d & (descriptorPresent | descriptorCodeOrData | descriptorExecutable)
                    == descriptorPresent | descriptorCodeOrData | descriptorExecutable
                    && (d >> descriptorPrivilegeShift) & 3 == userPrivilege
                if isUserCode && d & descriptorLongMode == 0 {
                    return "GDT slot \(hex(UInt64(index * 8), width: 1)) is a 32-bit DPL-3 code segment"
                }
            }
            return nil
        }
        t.test("security.kernel-half-has-no-user-entry") {
            // Slots 255..511: no PML4 entry and no leaf has U/S. (Lower links
            // keep PageTableEntry.tableLinkFlags: without U in the PML4 entry
            // above them, they give ring 3 nothing.)
            let audit = PageTableAudit.run(root: KernelMemory.kernelSpace.table.root.raw)
            if audit.userEntriesInKernelHalf > 0 {
                return "\(audit.userEntriesInKernelHalf) kernel-half entries have U/S, first at \(hex(audit.firstUserEntryAddress))"
            }
            return audit.entriesVisited > 0 ? nil : "nothing was visited"
        }
        t.test("security.kernel-table-maps-nothing-in-the-user-half") {
            let audit = PageTableAudit.run(root: KernelMemory.kernelSpace.table.root.raw)
            return audit.userHalfEntries == 0 ? nil : "\(audit.userHalfEntries) user-half entries in the kernel's own table"
        }
        t.test("security.user-protections-never-global") {
            for protection: PageProtection in [.userReadOnly, .userReadWrite, [.read, .execute, .user],
                                               [.read, .write, .execute, .user]] {
                if protection.entryBits & PageTableEntry.global != 0 { return "a user protection has G" }
            }
            return nil
        }
    }
}

/// Walks a 4-level page table through the direct map and counts what the
/// security baseline forbids.
struct PageTableAudit {
    var entriesVisited = 0
    /// Present PML4 entries and leaves with U/S in PML4 slots 255..511.
    var userEntriesInKernelHalf = 0
    var firstUserEntryAddress: UInt64 = 0
    /// Present leaves in the user half with G (never allowed).
    var globalUserLeaves = 0
    /// Present PML4 entries in the user half.
    var userHalfEntries = 0

    static func run(root: UInt64) -> PageTableAudit {
        var audit = PageTableAudit()
        for slot in 0..<PagingLevel.entriesPerTable {
            let entry = load(root, slot)
            guard entry.isPresent else { continue }
            let inKernelHalf = KernelMemory.kernelSlots.contains(slot)
            if !inKernelHalf { audit.userHalfEntries += 1 }
            audit.visit(entry, at: .pml4, linear: UInt64(slot) << PagingLevel.pml4.shift, kernelHalf: inKernelHalf)
        }
        return audit
    }

    private static func load(_ table: UInt64, _ index: Int) -> PageTableEntry {
        // SAFETY: `table` is a page-table frame (from a present link), read
        // through the direct map; index < 512 keeps the load inside it.
        PageTableEntry(raw: KernelLayout.directMap(table).load(fromByteOffset: index * 8, as: UInt64.self))
    }

    private mutating func visit(_ entry: PageTableEntry, at level: PagingLevel, linear: UInt64, kernelHalf: Bool) {
        entriesVisited += 1
        let isLeaf = entry.isLeaf(at: level) || level == .pageTable
        if kernelHalf && entry.isUser && (level == .pml4 || isLeaf) {
            if userEntriesInKernelHalf == 0 { firstUserEntryAddress = linear }
            userEntriesInKernelHalf += 1
        }
        if isLeaf {
            if !kernelHalf && entry.isGlobal { globalUserLeaves += 1 }
            return
        }
        guard let next = level.next else { return }
        let table = entry.address(at: level).raw
        for index in 0..<PagingLevel.entriesPerTable {
            let child = Self.load(table, index)
            if child.isPresent {
                visit(child, at: next, linear: linear | (UInt64(index) << next.shift), kernelHalf: kernelHalf)
            }
        }
    }
}
