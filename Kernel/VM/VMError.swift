// Why an address-space operation was refused, and the errno the system
// call layer returns for it (Linux mm/mmap.c, mm/mprotect.c, mm/mremap.c).

public enum VMError: Error, Equatable, Sendable {
    /// No frame (or page-table page) was left. ENOMEM.
    case outOfMemory
    /// A misaligned address, a zero length, a fixed range outside user
    /// space, unknown protection bits. EINVAL.
    case invalidArgument
    /// Part of the range is not in any region (mprotect) or has no page
    /// behind it (kernel-side access). ENOMEM: Linux's mprotect returns
    /// ENOMEM for unmapped pages; for kernel-side copies the syscall layer
    /// may prefer EFAULT.
    case notMapped
    /// No free range of the requested length is left. ENOMEM.
    case noSpace
    /// The change would take the space past RLIMIT_AS or RLIMIT_DATA
    /// (Linux may_expand_vm, check_data_rlimit; UserAddressSpace+Limits.swift). ENOMEM.
    case limitExceeded
    /// mremap's old range is not mapped, or spans more than one region
    /// (Linux vma_to_resize / remap_is_valid). EFAULT.
    case badAddress
    /// A fixed address below `userStart` (Linux: mmap_min_addr, checked by
    /// security_mmap_addr in get_unmapped_area). EPERM.
    case notPermitted
    /// The region's may-permissions forbid the protection asked for: a
    /// writable shared mapping of a file opened read-only (do_mmap), or
    /// mprotect past VM_MAY* (do_mprotect_pkey). EACCES.
    case permissionDenied
    /// The operation would leave more regions than RegionList.maxCount
    /// (Linux vm.max_map_count: do_mmap, split_vma, brk). ENOMEM, with
    /// nothing changed.
    case tooManyRegions

    /// The positive Linux errno for this error.
    public var errno: Int {
        switch self {
        case .outOfMemory, .notMapped, .noSpace, .limitExceeded, .tooManyRegions: return LinuxErrno.noMemory
        case .invalidArgument: return LinuxErrno.invalidArgument
        case .badAddress: return LinuxErrno.badAddress
        case .notPermitted: return LinuxErrno.notPermitted
        case .permissionDenied: return LinuxErrno.permissionDenied
        }
    }

    /// The errno values used here (include/uapi/asm-generic/errno-base.h).
    public enum LinuxErrno {
        public static let notPermitted = 1     // EPERM
        public static let noMemory = 12        // ENOMEM
        public static let badAddress = 14      // EFAULT
        public static let invalidArgument = 22 // EINVAL
        public static let permissionDenied = 13 // EACCES
    }
}
