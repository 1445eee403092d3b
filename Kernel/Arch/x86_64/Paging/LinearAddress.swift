// Canonical virtual addresses versus the 48-bit linear addresses the
// paging code computes with (SDM vol. 1 §3.3.7.1, vol. 3A §4.5).
//
// Design: the tree walkers work on the low 48 bits, where the higher half
// starts at 2^47 and a range may end exactly at 2^48 without overflowing
// UInt64. Addresses are sign-extended back only where they leave the paging
// code (TLB invalidation, query results).

enum LinearAddress {
    static let bits: UInt64 = 48
    /// One past the last linear address.
    static let end: UInt64 = 1 << bits
    static let mask: UInt64 = end - 1
    static let higherHalfBit: UInt64 = 1 << (bits - 1)
    static let signExtension: UInt64 = ~mask

    /// True if bits 63..47 of `address` are all equal.
    static func isCanonical(_ address: VirtualAddress) -> Bool {
        let top = address.raw & (signExtension | higherHalfBit)
        return top == 0 || top == (signExtension | higherHalfBit)
    }

    /// The 48-bit linear address of a canonical address.
    static func linear(_ address: VirtualAddress) -> UInt64 { address.raw & mask }

    /// The canonical address of a 48-bit linear address.
    static func canonical(_ linear: UInt64) -> VirtualAddress {
        VirtualAddress(linear & higherHalfBit != 0 ? linear | signExtension : linear)
    }
}
