import HAL

// The kernel heap instance behind posix_memalign/free (Kernel/Arch/x86_64/
// Runtime/libc.c forwards to the two functions below).
//
// Its window starts with an arena inside the image's bss (Boot/heap.asm),
// so Swift can allocate from the first line of kernel_main; pages past the
// arena are backed by frames once the kernel has its own page tables.
struct KernelHeapBacking: HeapBacking {
    /// False until the kernel runs on its own page tables: until then only
    /// the arena exists.
    var framesReady = false

    mutating func commit(page address: UInt64) -> Bool {
        guard framesReady else { return false }
        let page = VirtualAddress(address) ..< VirtualAddress(address + pageSize)
        do throws(PagingError) {
            try KernelMemory.kernelSpace.table.edit(page, flushingWith: KernelMemory.tlb) { (cursor) throws(PagingError) in
                guard let frame = KernelMemory.frames.allocateFrame(kind: .kernelHeap) else { throw .outOfMemory }
                try cursor.map(frame, PageProtection.kernelReadWrite.union(.global))  // releases the frame on failure
            }
            return true
        } catch {
            return false
        }
    }

    mutating func decommit(page address: UInt64) {
        let page = VirtualAddress(address) ..< VirtualAddress(address + pageSize)
        do throws(PagingError) {
            try KernelMemory.kernelSpace.table.edit(page, flushingWith: KernelMemory.tlb) { (cursor) throws(PagingError) in
                try cursor.unmap(length: pageSize) { frame in KernelMemory.frames.releaseFrame(frame) }
            }
        } catch {
            kernelPanic("kernel heap: could not unmap a heap page")
        }
    }
}

enum KernelHeapSetup {
    nonisolated(unsafe) static var heap = KernelHeap<KernelHeapBacking>(
        base: hal_heap_window_start(),
        pageCount: Int(hal_heap_window_pages()),
        permanentPages: Int(hal_heap_arena_pages()),
        metadata: hal_heap_metadata()!,
        backing: KernelHeapBacking())

    static func contains(_ address: UInt64) -> Bool {
        address >= heap.base && address < heap.base + UInt64(heap.pageCount * 4096)
    }
}

@_cdecl("kernel_heap_allocate")
func kernelHeapAllocate(_ size: Int, _ alignment: Int) -> UnsafeMutableRawPointer? {
    KernelHeapSetup.heap.allocate(size: size, alignment: alignment)
}

@_cdecl("kernel_heap_free")
func kernelHeapFree(_ pointer: UnsafeMutableRawPointer) {
    if !KernelHeapSetup.heap.free(pointer) {
        kernelPanic("kernel heap: free of a pointer the heap did not hand out")
    }
}
