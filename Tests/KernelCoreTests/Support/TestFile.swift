// File bytes for the file-mapping tests: a FileContents keeps a pointer to
// its file's bytes for its whole life (the boot archive, in the kernel), so
// a test's file lives in one allocation that outlasts every space mapping
// it: create the TestFile before `withSpace`.

import Testing
@testable import KernelCore
import FakeMMU

final class TestFile {
    private let storage: UnsafeMutableRawBufferPointer
    let count: Int

    init(_ contents: [UInt8]) {
        count = contents.count
        storage = .allocate(byteCount: Swift.max(contents.count, 1), alignment: 16)
        // SAFETY: the allocation holds at least contents.count bytes.
        contents.withUnsafeBytes { storage.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: contents.count) }
    }

    /// `count` bytes, each `(index * 7 + 1)` truncated: recognisable, never all zero per page.
    convenience init(patternedBytes count: Int) {
        self.init((0..<count).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) })
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }

    /// The 8 bytes at `offset` of the file.
    func word(_ offset: Int) -> UInt64 { bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }

    deinit { storage.deallocate() }
}

/// Runs `body` on a second space of `machine` sharing `kernel`, then
/// unloads it if loaded and tears it down (every path).
func withSecondSpace(_ kernel: borrowing TestPageTable, _ machine: PagingMachine,
                     _ body: (inout TestSpace) throws -> Void) throws {
    var other = try TestSpace(sharingKernelHalfOf: kernel)
    var failure: (any Error)? = nil
    do {
        try body(&other)
    } catch {
        failure = error
    }
    if machine.mmu.cr3 == other.table.root { machine.mmu.cr3 = kernel.root }
    other.tearDown()
    if let failure { throw failure }
}
