import HAL

// Self-tests of the memory core on the real machine: the frame allocator
// over the real memory map, the live page tables and TLB, kernel stack
// guard pages and the heap's growth onto frames.
enum MemoryTests {
    /// A kernel-half address nothing else uses (PML4 slot 255, far above the
    /// image, heap and stacks).
    static let scratchAddress: UInt64 = KernelLayout.kernelBase + (400 << 30)

    static func run(_ t: inout TestRunner) {
        let frames = KernelMemory.frames!

        t.test("frames.allocate-every-free-frame-then-free-all") {
            let baseline = frames.statistics.freeFrames
            // Chain the frames through their own first word: a Swift array
            // would need the heap, which needs frames.
            var head: UInt64 = 0
            var count = 0
            while let frame = frames.allocateFrame(kind: .other) {
                let address = frame.intoRaw()
                KernelMemory.memory.pointer(to: address).storeBytes(of: head, as: UInt64.self)
                head = address.raw
                count += 1
            }
            let exhausted = frames.statistics.freeFrames
            while head != 0 {
                let next = KernelMemory.memory.pointer(to: PhysicalAddress(head)).load(as: UInt64.self)
                frames.releaseFrame(OwnedFrame(adopting: PhysicalAddress(head)))
                head = next
            }
            print("  allocated \(count) frames (\(formatSize(UInt64(count) * pageSize))), all free again")
            if count != baseline { return "allocated \(count) frames, but \(baseline) were free" }
            if exhausted != 0 { return "\(exhausted) frames still free after exhaustion" }
            let after = frames.statistics.freeFrames
            return after == baseline ? nil : "free frames \(after) after freeing all, baseline \(baseline)"
        }

        t.test("frames.contiguous-block-is-aligned-and-returns") {
            let baseline = frames.statistics.freeFrames
            guard let block = frames.allocateContiguous(frames: 64, kind: .other) else { return "no 64-frame block" }
            defer { frames.freeContiguous(block, frames: 64) }
            if block.raw % (64 * pageSize) != 0 { return "block \(hex(block.raw)) is not 256 KiB aligned" }
            return frames.statistics.freeFrames == baseline - 64 ? nil : "free count did not drop by 64"
        }

        t.test("paging.map-write-remap-unmap-in-live-tables") {
            let baseline = frames.statistics.freeFrames
            let page = VirtualAddress(scratchAddress)..<VirtualAddress(scratchAddress + pageSize)
            let pointer = UnsafeMutablePointer<UInt64>(bitPattern: UInt(scratchAddress))!
            do throws(PagingError) {
                // Map frame A and write through the new mapping.
                try KernelMemory.kernelSpace.table.edit(page, flushingWith: KernelMemory.tlb) { (c) throws(PagingError) in
                    try c.map(frames.allocateFrame(kind: .other)!, .kernelReadWrite)
                }
                pointer.pointee = 0xA11CE
                guard let physicalA = KernelMemory.kernelSpace.table.translate(page.lowerBound) else { return "not mapped" }
                if KernelMemory.memory.pointer(to: physicalA).load(as: UInt64.self) != 0xA11CE {
                    return "the write did not reach the frame"
                }
                // Remap to frame B: after the flush the CPU must see B, not a stale A.
                try KernelMemory.kernelSpace.table.edit(page, flushingWith: KernelMemory.tlb) { (c) throws(PagingError) in
                    try c.unmap(length: pageSize) { frames.releaseFrame($0) }
                    try c.jump(to: page.lowerBound)
                    let frameB = frames.allocateFrame(kind: .other)!
                    KernelMemory.memory.pointer(to: frameB.address).storeBytes(of: 0xB0B, as: UInt64.self)
                    try c.map(frameB, .kernelReadWrite)
                }
                if pointer.pointee != 0xB0B { return "read \(hex(pointer.pointee)) through a stale translation" }
                // Unmap: the address must fault again, and every frame come back.
                try KernelMemory.kernelSpace.table.edit(page, flushingWith: KernelMemory.tlb) { (c) throws(PagingError) in
                    try c.unmap(length: pageSize) { frames.releaseFrame($0) }
                }
            } catch {
                return "paging error"
            }
            if let failure = ProtectionTests.expectPageFault(errorCode: [], at: scratchAddress, {
                hal_probe_read_byte(UnsafeRawPointer(bitPattern: UInt(scratchAddress))!)
            }) { return "after unmap: \(failure)" }
            let after = frames.statistics.freeFrames
            return after == baseline ? nil : "free frames \(after), baseline \(baseline) (page tables or frames leaked)"
        }

        t.test("stacks.guard-page-below-a-kernel-stack-faults") {
            guard let stack = KernelStacks.allocate() else { return "no stack" }
            defer { KernelStacks.free(stack) }
            let top = UnsafeMutableRawPointer(bitPattern: UInt(stack.top - 8))!
            if hal_probe_write_byte(top, 1) != 0 { return "the stack itself is not writable" }
            return ProtectionTests.expectPageFault(errorCode: [], at: stack.guardPage + 0xFF8) {
                hal_probe_read_byte(UnsafeRawPointer(bitPattern: UInt(stack.guardPage + 0xFF8))!)
            }
        }

        t.test("heap.grows-past-its-arena-and-gives-frames-back") {
            let heapFramesBefore = frames.statistics.frames(.kernelHeap)
            let committedBefore = KernelHeapSetup.heap.committedPages
            let arenaBytes = KernelHeapSetup.heap.permanentPages * Int(pageSize)
            // More than the arena in 64 KiB blocks.
            var blocks: [UnsafeMutableRawPointer] = []
            for i in 0..<(arenaBytes / 65536 + 16) {
                let block = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
                block.storeBytes(of: UInt64(i), as: UInt64.self)
                blocks.append(block)
            }
            let grown = frames.statistics.frames(.kernelHeap) - heapFramesBefore
            for block in blocks { block.deallocate() }
            blocks = []
            if grown <= 0 { return "the heap did not take frames past its \(formatSize(UInt64(arenaBytes))) arena" }
            print("  heap grew by \(grown) frames past its arena")
            let heapFramesAfter = frames.statistics.frames(.kernelHeap)
            if heapFramesAfter != heapFramesBefore { return "\(heapFramesAfter - heapFramesBefore) heap frames not returned" }
            return KernelHeapSetup.heap.committedPages == committedBefore ? nil : "committed pages did not return"
        }
    }
}
