// brk, mmap, munmap, mprotect (Linux mm/mmap.c, mm/mprotect.c), on the
// task's UserAddressSpace (Kernel/VM), where the region semantics live.
// This file only checks the arguments as Linux does and maps errors.
enum MemorySyscalls {
    /// brk(address): the new break, or the old one when refused (Linux
    /// returns the current break rather than an error).
    static func brk(_ task: Task, address: UInt64) -> SyscallOutcome {
        .value(task.space!.setBreak(VirtualAddress(address), tlb: KernelMemory.tlb).raw)
    }

    /// mmap(address, length, protection, flags, fd, offset): private
    /// anonymous memory, or a private copy of an archive file.
    static func mmap(_ task: Task, address: UInt64, length: UInt64, protection: UInt64, flags: UInt64,
                     fd: Int64, offset: UInt64) -> SyscallOutcome {
        guard length > 0 else { return .error(.EINVAL) }
        guard length <= UserSpace.userEnd.raw else { return .error(.ENOMEM) }
        guard let vmProtection = VMProtection(linuxProtection: Int(truncatingIfNeeded: protection)) else { return .error(.EINVAL) }
        // Exactly one of MAP_PRIVATE and MAP_SHARED; shared memory needs the COW/VM issue's objects.
        guard flags & (MmapABI.mapPrivate | MmapABI.mapShared) == MmapABI.mapPrivate else { return .error(.EINVAL) }
        let fixed = flags & (MmapABI.mapFixed | MmapABI.mapFixedNoReplace) != 0
        if fixed {
            guard address % pageSize == 0 else { return .error(.EINVAL) }
            // Linux: ENOMEM past TASK_SIZE, EPERM below vm.mmap_min_addr.
            let (end, overflow) = address.addingReportingOverflow(length)
            guard !overflow, end <= UserSpace.userEnd.raw else { return .error(.ENOMEM) }
            guard address >= UserSpace.userStart.raw else { return .error(.EPERM) }
        }

        var contents: UnsafeRawBufferPointer? = nil
        if flags & MmapABI.mapAnonymous == 0 {
            guard let file = task.files.file(fd) else { return .error(.EBADF) }
            guard case .file(let bytes) = file.kind else { return .error(.ENODEV) }
            guard offset % pageSize == 0 else { return .error(.EINVAL) }
            let start = Int(clamping: min(offset, UInt64(bytes.count)))
            let end = Int(clamping: min(UInt64(bytes.count), UInt64(start) + length))
            contents = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        }
        let pageLength = (length + pageSize - 1) & ~(pageSize - 1)
        if flags & MmapABI.mapFixedNoReplace != 0 && overlapsRegion(task, address, pageLength) {
            return .error(.EEXIST)
        }
        let request = MapRequest(address: address == 0 && !fixed ? nil : VirtualAddress(address), length: length,
                                 protection: vmProtection, kind: .anonymous, fixed: fixed)
        let mapped: VirtualAddress
        do throws(VMError) {
            mapped = try task.space!.map(request, tlb: KernelMemory.tlb)
        } catch {
            return .error(errno(for: error))
        }
        // A file's bytes go in only where there are pages: PROT_NONE has none
        // (see the deviations in Kernel/VM/UserAddressSpace.swift).
        if let contents, contents.count > 0, vmProtection.allowsAccess {
            do throws(VMError) {
                try task.space!.write(contents, at: mapped)
            } catch {
                try? task.space!.unmap(mapped ..< mapped + pageLength, tlb: KernelMemory.tlb)
                return .error(errno(for: error))
            }
        }
        return .value(mapped.raw)
    }

    /// munmap(address, length): holes are fine; the range must be page
    /// aligned at its start and lie in user space.
    static func munmap(_ task: Task, address: UInt64, length: UInt64) -> SyscallOutcome {
        guard let range = userRange(address, length) else { return .error(.EINVAL) }
        do throws(VMError) {
            try task.space!.unmap(range, tlb: KernelMemory.tlb)
            return .value(0)
        } catch {
            return .error(errno(for: error))
        }
    }

    /// mprotect(address, length, protection): -ENOMEM if part of the range
    /// is not mapped.
    static func mprotect(_ task: Task, address: UInt64, length: UInt64, protection: UInt64) -> SyscallOutcome {
        guard let vmProtection = VMProtection(linuxProtection: Int(truncatingIfNeeded: protection)) else { return .error(.EINVAL) }
        if length == 0 && address % pageSize == 0 { return .value(0) }
        guard let range = userRange(address, length) else {
            return .error(address % pageSize != 0 ? .EINVAL : .ENOMEM)
        }
        do throws(VMError) {
            try task.space!.protect(range, to: vmProtection, tlb: KernelMemory.tlb)
            return .value(0)
        } catch {
            return .error(errno(for: error))
        }
    }

    /// [address, address + length rounded up to a page), if aligned, non-empty and in user space.
    private static func userRange(_ address: UInt64, _ length: UInt64) -> Range<VirtualAddress>? {
        guard address % pageSize == 0, length > 0, length <= UserSpace.userEnd.raw else { return nil }
        let (end, overflow) = address.addingReportingOverflow((length + pageSize - 1) & ~(pageSize - 1))
        guard !overflow, end <= UserSpace.userEnd.raw else { return nil }
        return VirtualAddress(address) ..< VirtualAddress(end)
    }

    private static func overlapsRegion(_ task: Task, _ address: UInt64, _ length: UInt64) -> Bool {
        let (end, overflow) = address.addingReportingOverflow(length)
        if overflow { return true }
        return !task.withSpace { $0.isFree(VirtualAddress(address) ..< VirtualAddress(end)) }
    }

    /// The errno Linux gives for a VM failure (the mapping is VMError.errno).
    static func errno(for error: VMError) -> Errno {
        Errno(rawValue: Int64(error.errno)) ?? .ENOMEM
    }
}
