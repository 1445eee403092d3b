// The error code a page fault pushes (Intel SDM vol. 3A §4.7, figure 4-12).
// One definition for the kernel's #PF handler, the portable fault path
// (PageFault.init(errorCode:address:)) and the host tests' fake MMU.

public struct PageFaultErrorCode: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// 0: the page was not present; 1: a protection (or reserved-bit) violation.
    public static let present = PageFaultErrorCode(rawValue: 1 << 0)
    /// The access was a write.
    public static let write = PageFaultErrorCode(rawValue: 1 << 1)
    /// The access was made in user mode (CPL 3).
    public static let user = PageFaultErrorCode(rawValue: 1 << 2)
    /// A reserved bit was set in a paging-structure entry.
    public static let reservedBit = PageFaultErrorCode(rawValue: 1 << 3)
    /// The access was an instruction fetch (reported when NXE or SMEP is on).
    public static let instructionFetch = PageFaultErrorCode(rawValue: 1 << 4)
    /// A protection-key violation.
    public static let protectionKey = PageFaultErrorCode(rawValue: 1 << 5)
}
