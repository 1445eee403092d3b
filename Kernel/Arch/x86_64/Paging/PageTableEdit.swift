// PageTable.edit: the safe way to change a loaded address space.
//
// A cursor owes a PendingFlush, and dropping one traps. When a cursor
// operation throws, the error would carry the caller out of scope with the
// cursor (and its debt) still alive: a crash on exactly the error paths
// that are least tested. `edit` finishes the cursor and flushes on every
// path, then rethrows.

extension PageTable where Memory: PhysicalMemory, Frames: FrameProvider {
    /// Runs `body` with a cursor over `range`, then flushes what the cursor
    /// owes through `tlb`, whether `body` returned or threw. Rethrows
    /// `body`'s error (or the cursor's creation error).
    public mutating func edit<TLB: TLBControl, Result>(
        _ range: Range<VirtualAddress>, flushingWith tlb: TLB,
        _ body: (inout PageTableCursor<Memory, Frames>) throws(PagingError) -> Result
    ) throws(PagingError) -> Result {
        var cursor = try cursor(over: range)
        let outcome: Swift.Result<Result, PagingError>
        do throws(PagingError) {
            outcome = .success(try body(&cursor))
        } catch {
            outcome = .failure(error)
        }
        cursor.finish().flush(using: tlb)
        return try outcome.get()
    }
}
