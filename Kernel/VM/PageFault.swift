// A page fault as the portable VM sees it, and what resolving it did
// (Linux: the fault flags of handle_mm_fault and its vm_fault_t result).

/// The kind of access that faulted.
public enum MemoryAccess: Equatable, Sendable {
    case read, write, execute
}

public struct PageFault: Equatable {
    /// The faulting address (CR2), any byte of the page.
    public var address: VirtualAddress
    public var access: MemoryAccess
    /// The #PF error code's P bit: a protection fault on a present leaf
    /// (copy-on-write, or a real violation) rather than a missing one.
    public var wasPresent: Bool
    /// The access came from ring 3; false for the kernel's own accesses to
    /// user memory (usercopy, the loader).
    public var fromUser: Bool

    public init(address: VirtualAddress, access: MemoryAccess, wasPresent: Bool, fromUser: Bool) {
        self.address = address
        self.access = access
        self.wasPresent = wasPresent
        self.fromUser = fromUser
    }

    /// The fault a #PF with `errorCode` at CR2 = `address` describes.
    public init(errorCode: PageFaultErrorCode, address: VirtualAddress) {
        let access: MemoryAccess = errorCode.contains(.instructionFetch) ? .execute
            : errorCode.contains(.write) ? .write : .read
        self.init(address: address, access: access, wasPresent: errorCode.contains(.present),
                  fromUser: errorCode.contains(.user))
    }
}

/// How a fault was resolved, for counters and traces.
public enum FaultFix: Int, CaseIterable, Sendable {
    /// A read of private anonymous memory mapped the shared zero page.
    case zeroPage
    /// A write of untouched private anonymous memory got a zeroed frame.
    case demandZero
    /// A write to a shared copy-on-write page copied it.
    case copyOnWrite
    /// A write to a copy-on-write page this mapping alone holds reused it in place.
    case reuse
    /// A page of a shared memory object was mapped.
    case shared
    /// A file page's page-cache frame was mapped read-only (a read of a
    /// private file mapping, any access of a shared one).
    case file
    /// A write to an untouched page of a private file mapping got its own
    /// copy of the file's page (Linux do_cow_fault).
    case fileCopy
    /// The leaf already allowed the access: only the TLB was stale.
    case spurious

    public var name: StaticString {
        switch self {
        case .zeroPage: return "zero page"
        case .demandZero: return "demand zero"
        case .copyOnWrite: return "cow copy"
        case .reuse: return "cow reuse"
        case .shared: return "shared"
        case .file: return "file"
        case .fileCopy: return "file copy"
        case .spurious: return "spurious"
        }
    }
}

/// The outcome of `UserAddressSpace.resolve`.
public enum FaultResolution: Equatable {
    /// The access can be retried and will succeed.
    case resolved(FaultFix)
    /// No region contains the address: SIGSEGV with SEGV_MAPERR.
    case notMapped
    /// The region does not allow the access: SIGSEGV with SEGV_ACCERR.
    case accessDenied
    /// The page lies wholly past the end of its file or object: SIGBUS.
    case beyondEnd
    /// No frame or page-table page was left (Linux VM_FAULT_OOM).
    case outOfMemory

    public var isResolved: Bool {
        if case .resolved = self { return true }
        return false
    }
}
