import HAL

// The #PF handler's first step: CR2 and the error code become a portable
// PageFault, resolved through the current task's address space
// (Kernel/VM/UserAddressSpace+Fault.swift) before anything else happens.
//
// - From ring 3: resolved -> the instruction is retried; otherwise the
//   task is killed (Lifecycle.killForFault names the mapping).
// - From the kernel at a user address, at an instruction with an
//   exception-table fixup (the usercopy `rep movsb`, Boot/usercopy.asm):
//   resolved like a user fault first (so read(2) into an untouched or COW
//   buffer works), and only an unresolvable one resumes at the fixup
//   (-EFAULT). The copy restarts where it stopped: `rep movsb` keeps its
//   progress in RCX/RSI/RDI.
// - Any other kernel fault is not the VM's: the caller recovers or panics.
// - Faults the VM does not model are never resolved, because "resolving"
//   them would find the leaf already allowing the access, call the fault
//   spurious and retry the instruction forever: a reserved-bit or
//   protection-key fault, and a fault from ring 3 without the error code's
//   U bit. The last is an implicit supervisor access made on the task's
//   behalf (a descriptor-table read; QEMU TCG also reads the stack of a
//   ring-3 `lret` that way), which SMAP refuses on a user page. Linux
//   oopses the task there (page_fault_oops); it is killed with SIGSEGV.
enum PageFaultEntry {
    /// The fault `frame` (vector 14) describes.
    static func fault(of frame: UnsafeMutablePointer<hal_interrupt_frame>) -> PageFault {
        PageFault(errorCode: PageFaultErrorCode(rawValue: frame.pointee.error_code),
                  address: VirtualAddress(hal_read_cr2()))
    }

    /// Resolves `fault` in the current task's space, or nil if there is no
    /// user task or the address is not a user address. Out of frames, it
    /// reclaims the page cache's unmapped pages and tries once more. Counts a resolved
    /// fault (the monitor's `faults`, `trace on faults`) and runs the
    /// invariant checker on what it touched.
    static func resolve(_ fault: PageFault) -> FaultResolution? {
        guard fault.address.raw < UserMemoryLayout.userEnd.raw, let task = Scheduler.current,
              task.space != nil else { return nil }

        var resolution = task.space!.resolve(fault, tlb: KernelMemory.tlb)
        if resolution == .outOfMemory && FileCache.shared.reclaim() > 0 {
            // No free frame: the page cache's unmapped pages go first, as
            // Linux reclaims clean page cache before it calls the OOM killer.
            resolution = task.space!.resolve(fault, tlb: KernelMemory.tlb)
        }
        if case .resolved(let fix) = resolution {
            FaultStatistics.record(FaultOutcome(fix), task: task, address: fault.address.raw, errorCode: 0, rip: 0)
            VMCheck.afterEvent(task)
        }
        return resolution
    }

    /// The kinds of #PF the fault path must not resolve (see the header).
    enum NotTheVMs {
        case reservedBit, protectionKey, implicitSupervisorAccess

        /// For the kill line.
        var reason: String {
            switch self {
            case .reservedBit: return "reserved bit set"
            case .protectionKey: return "protection key"
            case .implicitSupervisorAccess: return "implicit supervisor access"
            }
        }
    }

    /// Why the fault path must not resolve the #PF `frame` describes, or
    /// nil if it may: from ring 3, only an access the CPU made in user mode.
    static func notTheVMs(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> NotTheVMs? {
        let code = PageFaultErrorCode(rawValue: frame.pointee.error_code)
        if code.contains(.reservedBit) { return .reservedBit }
        if code.contains(.protectionKey) { return .protectionKey }
        let fromUserFrame = frame.pointee.cs & 3 == 3
        return fromUserFrame && !code.contains(.user) ? .implicitSupervisorAccess : nil
    }

    /// True if the fault path may resolve the #PF `frame` describes.
    static func isResolvable(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> Bool {
        notTheVMs(frame) == nil
    }

    /// A kernel-mode #PF: true if it was a usercopy fault on a user page
    /// that the fault path resolved, so the copy can go on.
    static func resolveKernelAccess(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> Bool {
        guard ExceptionFixup.hasEntry(for: frame.pointee.rip), isResolvable(frame) else { return false }
        return resolve(fault(of: frame))?.isResolved ?? false
    }
}
