// May-permissions: what mprotect may give a range (Linux VM_MAYREAD,
// VM_MAYWRITE, VM_MAYEXEC; mm/mprotect.c do_mprotect_pkey). A region's
// may-permissions are set when it is created (NewRegion: a shared mapping
// of a read-only file loses may-write) and never change afterwards; they
// split and merge with the region.
//
// Known deviation: Linux walks the VMAs in order and changes each before
// it meets the one that refuses, so a failed mprotect may have changed a
// prefix of the range; here the whole range is checked first and a
// refusal changes nothing (POSIX allows either). The error is Linux's:
// that of the first refusal in address order.

extension UserAddressSpace {
    /// Why mprotect must refuse to give `range` the protection
    /// `protection`, or nil if it may: walking the range in address order,
    /// a page in no region is `.notMapped` (ENOMEM), a region whose
    /// may-permissions lack part of `protection` is `.permissionDenied`
    /// (EACCES: `(newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS`),
    /// whichever comes first. Contract: `range` is page aligned.
    /// `pieces` are the regions' parts inside `range`
    /// (`regionList.pieces(in: range)`, which mprotect needs anyway).
    func protectionRefusal(_ range: Range<VirtualAddress>, _ protection: VMProtection,
                           pieces: [Region]) -> VMError? {
        var covered = range.lowerBound
        for piece in pieces {
            if piece.start > covered { return .notMapped }
            if !piece.mayAllow(protection) { return .permissionDenied }
            covered = piece.end
        }
        return covered < range.upperBound ? .notMapped : nil
    }
}
