// Why an address-space operation was refused, and the errno the system
// call layer returns for it (Linux mm/mmap.c, mm/mprotect.c).

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
    /// The operation would leave more regions than RegionList.maxCount
    /// (Linux vm.max_map_count: do_mmap, split_vma, brk). ENOMEM, with
    /// nothing changed.
    case tooManyRegions

    /// The positive Linux errno for this error.
    public var errno: Int {
        switch self {
        case .outOfMemory, .notMapped, .noSpace, .tooManyRegions: return LinuxErrno.noMemory
        case .invalidArgument: return LinuxErrno.invalidArgument
        }
    }

    /// The errno values used here (include/uapi/asm-generic/errno-base.h).
    public enum LinuxErrno {
        public static let noMemory = 12        // ENOMEM
        public static let invalidArgument = 22 // EINVAL
    }
}
