// brk: the program break (Linux mm/mmap.c, SYSCALL_DEFINE1(brk)). The
// heap is the `.heap` region [breakStart, pageUp(breakEnd)), grown and
// shrunk a page at a time; the break itself need not be page aligned.

extension UserAddressSpace {
    /// Sets the break's area to start at `imageEnd` rounded up to a page
    /// (the end of the highest ELF segment), with an empty heap. Called by
    /// the ELF loader once per new space. An `imageEnd` outside
    /// [userStart, userEnd] leaves the break unset (0): brk then refuses
    /// every change.
    public mutating func setInitialBreak(_ imageEnd: VirtualAddress) {
        let valid = imageEnd >= Self.userStart && imageEnd <= Self.userEnd
        let start = valid ? VirtualAddress(Self.pageAlignedUp(imageEnd.raw)!) : VirtualAddress(0)
        breakStart = start
        breakEnd = start
    }

    /// Moves the break to `requested` and returns the new break, or returns
    /// the current one unchanged when refused: below `breakStart` (this
    /// includes brk(0), the query), above `userEnd`, before
    /// `setInitialBreak`, growing into another region, or a change that
    /// would leave more than RegionList.maxCount regions (Linux brk checks
    /// map_count in do_brk_flags).
    /// Growing adds read-write heap for [pageUp(old), pageUp(new)), filled
    /// with zeroed pages on demand;
    /// shrinking unmaps [pageUp(new), pageUp(old)) (whatever is mapped
    /// there), so pages grown again read as zero.
    /// Limits (UserAddressSpace+Limits.swift): refused if the heap would
    /// exceed RLIMIT_DATA (check_data_rlimit, before anything else, so a
    /// lowered limit refuses even a shrink, as on Linux), or if the growth
    /// does not fit in RLIMIT_AS or RLIMIT_DATA (may_expand_vm). Like
    /// Linux, growth keeps one free page between the new top and the next
    /// region (SYSCALL_DEFINE1(brk): "newbrk + PAGE_SIZE > vm_start_gap(next)"
    /// refuses).
    public mutating func setBreak<TLB: TLBControl>(_ requested: VirtualAddress, tlb: TLB) -> VirtualAddress {
        guard breakStart >= Self.userStart, requested >= breakStart, requested <= Self.userEnd,
              breakFitsDataLimit(requested) else {
            return breakEnd
        }
        let oldTop = VirtualAddress(Self.pageAlignedUp(breakEnd.raw)!)
        let newTop = VirtualAddress(Self.pageAlignedUp(requested.raw)!)
        if newTop > oldTop {
            let growth = Region(range: oldTop..<newTop, protection: .readWrite, kind: .heap)
            let gapEnd = VirtualAddress(min(newTop.raw + pageSize, Self.userEnd.raw))
            guard regionList.isFree(oldTop..<gapEnd), regionList.fits(placing: [growth], over: growth.range) else {
                return breakEnd
            }
            do throws(VMError) { try checkMappingGrowth(byPages: growth.pageCount, like: growth) } catch { return breakEnd }
            commitRegion(growth)
        } else if newTop < oldTop {
            guard regionList.fits(placing: [], over: newTop..<oldTop) else { return breakEnd }
            removeMappings(newTop..<oldTop, tlb: tlb)
        }
        breakEnd = requested
        return breakEnd
    }
}
