// FakeMMU: an x86-64 MMU in software for host tests — control registers, a
// page walker (PageWalker.swift) and a TLB that behaves like the hardware's
// closely enough that a missing invalidation is caught deterministically.
//
// TLB model (SDM vol. 3A §4.10):
// - A successful access caches its translation: page (4 KiB, 2 MiB or
//   1 GiB), physical page, combined rights, and G (when CR4.PGE=1).
// - Later accesses use the cached entry, as the CPU would, even if the
//   tables changed. Every access through a cached entry also walks the
//   tables fresh; if the fresh walk disagrees (not present, another frame,
//   or a right the cache grants that the tables no longer grant) a
//   StaleTLBReport is recorded. Gaining a right is not stale (the CPU
//   re-walks after the spurious fault, §4.10.4.3).
// - Entries go away only through `invalidatePage` (INVLPG: every size, global
//   too), a CR3 write (non-global entries; all when CR4.PGE=0) and
//   `flushAll(includingGlobal:)`. A fault through a cached entry drops it
//   (§4.10.4.1: a #PF invalidates the faulting page's entries).
// - Not modelled: paging-structure caches, PCID, PAT/memory types,
//   protection keys, implicit supervisor accesses. A and D are set on the
//   fresh walk's entries on every successful access (A on all levels, D on
//   the leaf for writes).

import KernelCore

/// One translation the fake TLB holds.
public struct TLBEntry: Equatable, Sendable {
    public var virtualPage: UInt64
    public var physicalPage: UInt64
    public var pageBytes: UInt64
    public var rights: AccessRights
    public var global: Bool
}

/// A use of a cached translation the tables no longer support.
public struct StaleTLBReport: Equatable, Sendable, CustomStringConvertible {
    public enum Difference: Equatable, Sendable {
        /// The tables no longer map the page.
        case noLongerMapped
        /// The tables map it to another physical page.
        case differentFrame(cached: UInt64, current: UInt64)
        /// The cache grants rights the tables no longer grant.
        case rightsRevoked(cached: AccessRights, current: AccessRights)
    }
    public let address: UInt64
    public let difference: Difference

    public var description: String {
        "stale TLB entry at 0x\(String(address, radix: 16)): \(difference)"
    }
}

public final class FakeMMU: TLBControl {
    public let memory: SimulatedPhysicalMemory

    /// CR3: writing it drops the non-global TLB entries (all when PGE is off).
    public var cr3 = PhysicalAddress(0) {
        didSet { dropEntries { !$0.global || !globalPagesEnabled } }
    }
    public var writeProtect = true           // CR0.WP
    public var smep = false                  // CR4.SMEP
    public var smap = false                  // CR4.SMAP
    public var globalPagesEnabled = true     // CR4.PGE
    public var noExecuteEnabled = true       // EFER.NXE
    public var alignmentCheck = false        // RFLAGS.AC
    /// MAXPHYADDR.
    public var physicalAddressBits: UInt64 = 46

    private var tlb: [UInt64: TLBEntry] = [:]
    public private(set) var staleReports: [StaleTLBReport] = []
    public private(set) var invalidatePageCount = 0
    public private(set) var fullFlushCount = 0
    public private(set) var globalFlushCount = 0

    private static let pageSizes: [UInt64] = [pageSize, 2 << 20, 1 << 30]

    public init(memory: SimulatedPhysicalMemory) { self.memory = memory }

    public var controls: AccessRights.Controls {
        AccessRights.Controls(writeProtect: writeProtect, smep: smep, smap: smap,
                              noExecuteEnabled: noExecuteEnabled, alignmentCheck: alignmentCheck)
    }
    public var walker: PageWalker {
        PageWalker(memory: memory, physicalAddressBits: physicalAddressBits, noExecuteEnabled: noExecuteEnabled)
    }
    /// Translations cached.
    public var cachedTranslationCount: Int { tlb.count }
    /// The cached translation covering `address`, if any.
    public func cachedTranslation(for address: VirtualAddress) -> TLBEntry? { lookup(address.raw)?.1 }
    /// Forgets the stale reports and the flush counters.
    public func resetCounters() {
        staleReports = []
        invalidatePageCount = 0
        fullFlushCount = 0
        globalFlushCount = 0
    }

    // MARK: TLBControl

    public func invalidatePage(_ address: VirtualAddress) {
        invalidatePageCount += 1
        for size in Self.pageSizes { tlb[Self.key(address.raw, size)] = nil }
    }

    public func flushAll(includingGlobal: Bool) {
        fullFlushCount += 1
        if includingGlobal { globalFlushCount += 1 }
        dropEntries { includingGlobal || !$0.global || !globalPagesEnabled }
    }

    // MARK: Accesses

    /// Performs one access as the CPU would (TLB first), returning where it
    /// landed or the fault it raised; records a StaleTLBReport when the TLB
    /// answered differently from the tables.
    public func access(_ address: VirtualAddress, _ kind: AccessKind, _ mode: PrivilegeMode) -> AccessResult {
        let top = address.raw >> 47
        guard top == 0 || top == (1 << 17) - 1 else { return .generalProtection }
        let fresh = walker.walk(root: cr3, address)
        if let (key, cached) = lookup(address.raw) {
            checkStale(cached, against: fresh, at: address.raw)
            if let code = cached.rights.fault(kind, mode, controls) {
                tlb[key] = nil
                return .pageFault(code)
            }
            if case .translated(let translation) = fresh { setAccessedAndDirty(translation, kind) }
            return .success(PhysicalAddress(cached.physicalPage + (address.raw - cached.virtualPage)))
        }
        switch fresh {
        case .notPresent:
            return .pageFault(.forAccess(kind, mode, controls))
        case .reservedBitSet:
            return .pageFault(PageFaultErrorCode.forAccess(kind, mode, controls).union([.present, .reservedBit]))
        case .translated(let translation):
            if let code = translation.rights.fault(kind, mode, controls) { return .pageFault(code) }
            let entry = TLBEntry(virtualPage: translation.virtualPage, physicalPage: translation.physicalPage,
                                 pageBytes: translation.pageBytes, rights: translation.rights,
                                 global: translation.global && globalPagesEnabled)
            tlb[Self.key(entry.virtualPage, entry.pageBytes)] = entry
            setAccessedAndDirty(translation, kind)
            return .success(PhysicalAddress(translation.physicalPage + (address.raw - translation.virtualPage)))
        }
    }

    private func checkStale(_ cached: TLBEntry, against fresh: WalkOutcome, at address: UInt64) {
        guard case .translated(let current) = fresh else {
            staleReports.append(StaleTLBReport(address: address, difference: .noLongerMapped))
            return
        }
        let cachedPhysical = cached.physicalPage + (address - cached.virtualPage)
        let currentPhysical = current.physicalPage + (address - current.virtualPage)
        if cachedPhysical != currentPhysical {
            staleReports.append(StaleTLBReport(address: address,
                                               difference: .differentFrame(cached: cachedPhysical,
                                                                           current: currentPhysical)))
            return
        }
        let old = cached.rights, new = current.rights
        if (old.writable && !new.writable) || (old.user && !new.user) || (old.executable && !new.executable) {
            staleReports.append(StaleTLBReport(address: address, difference: .rightsRevoked(cached: old, current: new)))
        }
    }

    private func setAccessedAndDirty(_ translation: Translation, _ kind: AccessKind) {
        for entryAddress in translation.upperEntryAddresses {
            orBits(PageTableEntry.accessed, at: entryAddress)
        }
        orBits(PageTableEntry.accessed | (kind == .write ? PageTableEntry.dirty : 0), at: translation.leafEntryAddress)
    }

    private func orBits(_ bits: UInt64, at entryAddress: UInt64) {
        let pointer = memory.pointer(to: PhysicalAddress(entryAddress))
        pointer.storeBytes(of: pointer.load(as: UInt64.self) | bits, as: UInt64.self)
    }

    // MARK: TLB storage

    /// Key of the entry for the page of `bytes` containing `address`: the
    /// page's address with the size's index in the (always clear) low bits.
    private static func key(_ address: UInt64, _ bytes: UInt64) -> UInt64 {
        let sizeIndex = UInt64(pageSizes.firstIndex(of: bytes)!)
        return (address & ~(bytes - 1)) | sizeIndex
    }

    private func lookup(_ address: UInt64) -> (UInt64, TLBEntry)? {
        for size in Self.pageSizes {
            let key = Self.key(address, size)
            if let entry = tlb[key] { return (key, entry) }
        }
        return nil
    }

    private func dropEntries(where shouldDrop: (TLBEntry) -> Bool) {
        tlb = tlb.filter { !shouldDrop($0.value) }
    }
}
