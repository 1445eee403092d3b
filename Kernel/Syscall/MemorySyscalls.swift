// brk, mmap, munmap, mprotect, mremap (Linux mm/mmap.c, mm/mprotect.c,
// mm/mremap.c), on the task's UserAddressSpace (Kernel/VM), where the
// region semantics live.
// This file only checks the arguments as Linux does and maps errors.
enum MemorySyscalls {
    /// brk(address): the new break, or the old one when refused (Linux
    /// returns the current break rather than an error).
    static func brk(_ task: Task, address: UInt64) -> SyscallOutcome {
        .value(task.space!.setBreak(VirtualAddress(address), tlb: KernelMemory.tlb).raw)
    }

    /// mmap(address, length, protection, flags, fd, offset): private or
    /// shared anonymous memory, or a private or shared mapping of an
    /// archive file (its page cache: Kernel/Init/FileCache.swift).
    /// Nothing is populated: the fault path fills pages at first touch.
    /// Argument checks in Linux's order (arch sys_mmap, ksys_mmap_pgoff,
    /// do_mmap): the offset's alignment, the fd, the length, the map type.
    /// Unknown protection bits are ignored, as do_mmap ignores them.
    static func mmap(_ task: Task, address: UInt64, length: UInt64, protection: UInt64, flags: UInt64,
                     fd: Int64, offset: UInt64) -> SyscallOutcome {
        guard offset % pageSize == 0 else { return .error(.EINVAL) }
        let anonymous = flags & MmapABI.mapAnonymous != 0
        var file: UnsafeRawBufferPointer? = nil
        if !anonymous {
            guard let open = task.files.file(Int64(Int32(truncatingIfNeeded: fd))) else { return .error(.EBADF) }
            guard case .file(let bytes) = open.kind else { return .error(.ENODEV) }
            file = bytes
        }
        guard length > 0 else { return .error(.EINVAL) }
        guard length <= UserSpace.userEnd.raw else { return .error(.ENOMEM) }
        let pageLength = (length + pageSize - 1) & ~(pageSize - 1)
        guard offset / pageSize <= UInt64.max / pageSize - pageLength / pageSize else { return .error(.EOVERFLOW) }
        let vmProtection = VMProtection(linuxProtection: Int(truncatingIfNeeded: protection) & VMProtection.LinuxBits.all)!
        let shared: Bool
        switch flags & MmapABI.mapType {
        case MmapABI.mapPrivate:
            shared = false
        case MmapABI.mapShared:
            shared = true
        case MmapABI.mapSharedValidate where !anonymous:
            // Linux validates the flags for files only; anonymous memory
            // with MAP_SHARED_VALIDATE is EINVAL below, as on Linux.
            guard flags & ~MmapABI.legacyFlags == 0 else { return .error(.EOPNOTSUPP) }
            shared = true
        default:
            return .error(.EINVAL)
        }
        let fixed = flags & (MmapABI.mapFixed | MmapABI.mapFixedNoReplace) != 0
        if fixed {
            guard address % pageSize == 0 else { return .error(.EINVAL) }
            // Linux: ENOMEM past TASK_SIZE, EPERM below vm.mmap_min_addr.
            let (end, overflow) = address.addingReportingOverflow(length)
            guard !overflow, end <= UserSpace.userEnd.raw else { return .error(.ENOMEM) }
            guard address >= UserSpace.userStart.raw else { return .error(.EPERM) }
        }
        if flags & MmapABI.mapFixedNoReplace != 0 && overlapsRegion(task, address, pageLength) {
            return .error(.EEXIST)
        }
        // Every archive file is open read-only, so the VM refuses a shared
        // writable file mapping with EACCES, after the address checks, as
        // do_mmap does (UserAddressSpace+Map.swift, restrictToBacking).
        let backing: RegionBacking
        var pageOffset: UInt64? = nil
        if let file {
            let contents = FileCache.file(file)
            backing = shared ? .sharedFile(contents) : .privateFile(contents)
            pageOffset = offset / pageSize
        } else if shared {
            backing = .shared(SharedMemory(pageCount: pageLength / pageSize, frames: KernelMemory.frames))
            pageOffset = 0
        } else {
            backing = .privateAnonymous
        }
        let request = MapRequest(address: address == 0 && !fixed ? nil : VirtualAddress(address), length: length,
                                 protection: vmProtection, kind: .anonymous, fixed: fixed,
                                 backing: backing, pageOffset: pageOffset)
        do throws(VMError) {
            return .value(try task.space!.map(request, tlb: KernelMemory.tlb).raw)
        } catch {
            return .error(errno(for: error))
        }
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
    /// is not mapped. PROT_SEM is accepted and means nothing here, as on
    /// x86 (arch_validate_prot); other unknown bits are EINVAL.
    static func mprotect(_ task: Task, address: UInt64, length: UInt64, protection: UInt64) -> SyscallOutcome {
        let bits = Int(truncatingIfNeeded: protection) & ~MmapABI.protSemaphore
        guard let vmProtection = VMProtection(linuxProtection: bits) else { return .error(.EINVAL) }
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

    /// mremap(address, old_length, new_length, flags, new_address): every
    /// argument is an unsigned long (flags too), as Linux declares them.
    /// Unknown flag bits are EINVAL (check_mremap_params); the rest of the
    /// checks, in Linux's order, and the forms are in
    /// Kernel/VM/UserAddressSpace+Remap.swift.
    static func mremap(_ task: Task, address: UInt64, oldLength: UInt64, newLength: UInt64, flags: UInt64,
                       newAddress: UInt64) -> SyscallOutcome {
        guard let options = RemapOptions(linuxFlags: flags) else { return .error(.EINVAL) }
        let request = RemapRequest(oldAddress: VirtualAddress(address), oldLength: oldLength, newLength: newLength,
                                   options: options, newAddress: VirtualAddress(newAddress))
        do throws(VMError) {
            return .value(try task.space!.remap(request, tlb: KernelMemory.tlb).raw)
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
