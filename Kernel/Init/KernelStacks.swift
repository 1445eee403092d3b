// Kernel stacks: each a run of pages in its own slot of a dedicated
// virtual region, with the page below it left unmapped as a guard, so an
// overflow faults (and, through the double-fault IST stack, panics
// readably) instead of silently corrupting whatever lies below.
//
//   slot i:  [guard page, unmapped][stackPages pages, mapped RW NX]
//
// The slots live in PML4 slot 255 (shared by every address space), well
// clear of the image and heap window.

struct KernelStack {
    /// Lowest mapped address.
    let base: UInt64
    /// One past the highest byte: the initial stack pointer.
    let top: UInt64
    let slot: Int
    /// The unmapped page right below `base`.
    var guardPage: UInt64 { base - pageSize }
}

enum KernelStacks {
    static let regionBase: UInt64 = KernelLayout.kernelBase + (256 << 30)
    static let stackPages: UInt64 = 4                       // 16 KiB
    static let slotBytes: UInt64 = (stackPages + 1) * pageSize
    static let slotCount = 4096
    private static let wordBits = 64

    nonisolated(unsafe) private static var usedSlots = [UInt64](repeating: 0, count: slotCount / wordBits)

    /// A fresh stack, or nil when out of frames or slots. Its frames are of
    /// kind `.kernelStack`.
    static func allocate() -> KernelStack? {
        guard let slot = claimSlot() else { return nil }
        let base = regionBase + UInt64(slot) * slotBytes + pageSize
        let range = VirtualAddress(base) ..< VirtualAddress(base + stackPages * pageSize)
        do throws(PagingError) {
            try KernelMemory.kernelSpace.table.edit(range, flushingWith: KernelMemory.tlb) { (cursor) throws(PagingError) in
                for _ in 0..<stackPages {
                    guard let frame = KernelMemory.frames.allocateFrame(kind: .kernelStack) else { throw .outOfMemory }
                    try cursor.map(frame, PageProtection.kernelReadWrite.union(.global))
                }
            }
        } catch {
            unmapAndRelease(base: base)
            releaseSlot(slot)
            return nil
        }
        return KernelStack(base: base, top: base + stackPages * pageSize, slot: slot)
    }

    /// Unmaps the stack and returns its frames. It must not be in use.
    static func free(_ stack: KernelStack) {
        unmapAndRelease(base: stack.base)
        releaseSlot(stack.slot)
    }

    private static func unmapAndRelease(base: UInt64) {
        let range = VirtualAddress(base) ..< VirtualAddress(base + stackPages * pageSize)
        do throws(PagingError) {
            try KernelMemory.kernelSpace.table.edit(range, flushingWith: KernelMemory.tlb) { (cursor) throws(PagingError) in
                try cursor.unmap(length: stackPages * pageSize) { KernelMemory.frames.releaseFrame($0) }
            }
        } catch {
            kernelPanic("kernel stacks: could not unmap a stack")
        }
    }

    private static func claimSlot() -> Int? {
        for word in 0..<usedSlots.count where usedSlots[word] != UInt64.max {
            let bit = (~usedSlots[word]).trailingZeroBitCount
            usedSlots[word] |= 1 << UInt64(bit)
            return word * wordBits + bit
        }
        return nil
    }

    private static func releaseSlot(_ slot: Int) {
        usedSlots[slot / wordBits] &= ~(1 << UInt64(slot % wordBits))
    }
}
