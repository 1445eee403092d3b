// The hook through which page-table code invalidates translations.
//
// Design: the page-table code never executes invlpg or writes CR3 itself; it
// hands a PendingFlush to something conforming to TLBControl. The kernel's
// conformer executes the instructions (invlpg; CR3 reload, or a CR4.PGE
// toggle to drop global entries too, SDM vol. 3A §4.10.4.1); the host tests'
// FakeMMU drops entries of its software TLB, so a missing flush shows up as
// a stale translation there. Class-bound so that Embedded Swift accepts
// `some TLBControl` and `any TLBControl` alike.

public protocol TLBControl: AnyObject {
    /// Drops every TLB entry for the page containing `address`, whatever its
    /// size and even if global, and every paging-structure-cache entry
    /// (what INVLPG does, SDM §4.10.4.1).
    func invalidatePage(_ address: VirtualAddress)

    /// Drops every non-global TLB entry (a CR3 reload) and, when
    /// `includingGlobal`, the global ones too (toggling CR4.PGE).
    func flushAll(includingGlobal: Bool)
}
