import HAL

// The kernel heap instance behind posix_memalign/free (Kernel/Arch/x86_64/
// Runtime/libc.c forwards to the two functions below).
//
// Its window starts with an arena inside the image's bss (Boot/heap.asm),
// so Swift can allocate from the first line of kernel_main; pages past the
// arena are backed by frames once the kernel has its own page tables.
struct ArenaOnlyBacking: HeapBacking {
    mutating func commit(page address: UInt64) -> Bool { false }
    mutating func decommit(page address: UInt64) {}
}

enum KernelHeapSetup {
    nonisolated(unsafe) static var heap = KernelHeap<ArenaOnlyBacking>(
        base: hal_heap_window_start(),
        pageCount: Int(hal_heap_window_pages()),
        permanentPages: Int(hal_heap_arena_pages()),
        metadata: hal_heap_metadata()!,
        backing: ArenaOnlyBacking())

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
