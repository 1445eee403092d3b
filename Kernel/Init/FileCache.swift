// The kernel's page cache (Kernel/VM/PageCache.swift): one table of the
// boot archive's files, each with its cached pages, for the whole boot.
// exec and mmap get a file's FileContents here, so that every mapping of
// one file, in any process, shares one cache.
//
// Lifetime (PageCache.swift explains the choice): the cached frames stay
// after their last mapping goes, as Linux keeps page cache; a fault that
// finds no free frame reclaims the unmapped ones and retries
// (PageFaultEntry.resolve); at shutdown, once every process is gone, the
// cache is dropped before the frame-baseline check, and the number of
// frames it held is printed (ProcessTable.swift).
enum FileCache {
    nonisolated(unsafe) private static var instance: PageCache? = nil

    /// The cache, created at first use (after the frame allocator is up).
    static var shared: PageCache {
        if let instance { return instance }
        let cache = PageCache(frames: KernelMemory.frames)
        instance = cache
        return cache
    }

    /// The one FileContents of the archive file `bytes`.
    static func file(_ bytes: UnsafeRawBufferPointer) -> FileContents { shared.file(bytes) }
}
