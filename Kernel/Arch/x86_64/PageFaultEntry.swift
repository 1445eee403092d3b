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

    /// True if the fault path may resolve the #PF `frame` describes (see
    /// the header): not a reserved-bit or protection-key fault, and from
    /// ring 3 only an access the CPU made in user mode.
    static func isResolvable(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> Bool {
        let code = PageFaultErrorCode(rawValue: frame.pointee.error_code)
        if !code.isDisjoint(with: [.reservedBit, .protectionKey]) { return false }
        let fromUserFrame = frame.pointee.cs & 3 == 3
        return !fromUserFrame || code.contains(.user)
    }

    /// Why the #PF `frame` describes is not the VM's, for the kill line;
    /// nil if it is resolvable.
    static func unresolvableReason(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> String? {
        if isResolvable(frame) { return nil }
        let code = PageFaultErrorCode(rawValue: frame.pointee.error_code)
        if code.contains(.reservedBit) { return "reserved bit set" }
        if code.contains(.protectionKey) { return "protection key" }
        return "implicit supervisor access"
    }

    /// A kernel-mode #PF: true if it was a usercopy fault on a user page
    /// that the fault path resolved, so the copy can go on.
    static func resolveKernelAccess(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> Bool {
        guard ExceptionFixup.hasEntry(for: frame.pointee.rip), isResolvable(frame) else { return false }
        return resolve(fault(of: frame))?.isResolved ?? false
    }
}
