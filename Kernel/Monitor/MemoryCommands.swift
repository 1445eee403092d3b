// Monitor commands about memory: pt, frames, tlb, mem, phys.
enum MemoryCommands {
    /// The most bytes one mem/phys command dumps.
    static let maximumDump: UInt64 = 4096
    static let bytesPerDumpLine: UInt64 = 16
    /// Histogram buckets: counts 0, 1, 2, and this many or more.
    static let histogramBuckets = 4

    /// pt PID ADDR: each level's index and entry, decoded.
    static func pageTable(_ words: [Substring]) {
        guard words.count == 2, let address = MonitorText.parseNumber(words[1]) else { print("usage: pt PID ADDR"); return }
        guard let task = TaskCommands.liveTask([words[0]], usage: "pt PID ADDR") else { return }
        print("pid \(task.pid) (\(task.displayName)): walk of \(MonitorText.hex(address)), CR3 \(MonitorText.hex(task.cr3))")
        print(MonitorText.row([("LEVEL", 10), ("TABLE", 14), ("ENTRY", 21), ("POINTS TO", 16), ("FLAGS", 0)]))
        for step in PageWalk.steps(cr3: task.cr3, address: address) {
            let target: String
            if step.level == .pageTable && step.entry.isParked {
                target = "frame \(MonitorText.hex(step.entry.address(at: .pageTable).raw))"
            } else if !step.entry.isPresent { target = "-" }
            else if step.entry.isLeaf(at: step.level) { target = "frame \(MonitorText.hex(step.entry.address(at: step.level).raw))" }
            else { target = "table \(MonitorText.hex(step.entry.address(at: step.level).raw))" }
            print(MonitorText.row([("\(PageWalk.levelName(step.level))[\(step.index)]", 10),
                                   (MonitorText.hex(step.tableAddress), 14), (MonitorText.hex(step.entry.raw), 21),
                                   (target, 16), (PageWalk.describeFlags(step.entry, at: step.level), 0)]))
        }
        if let physical = PageWalk.translate(cr3: task.cr3, address: address) {
            print("\(MonitorText.hex(address)) -> physical \(MonitorText.hex(physical))")
        } else if let last = PageWalk.steps(cr3: task.cr3, address: address).last,
                  last.level == .pageTable, last.entry.isParked {
            print("\(MonitorText.hex(address)): no access (PROT_NONE), the page is kept in frame \(MonitorText.hex(last.entry.address(at: .pageTable).raw))")
        } else {
            print("\(MonitorText.hex(address)): not mapped")
        }
    }

    /// frames: by kind, free blocks per order, reference- and map-count histograms.
    static func frames() {
        let allocator = KernelMemory.frames!
        let s = allocator.statistics
        print("Frames: \(s.totalFrames) usable (\(formatSize(UInt64(s.totalFrames) * pageSize)))")
        print(MonitorText.row([("KIND", 15), ("FRAMES", 8), ("SIZE", 0)], rightAligned: [1]))
        for kind in FrameKind.allCases {
            print(MonitorText.row([(kind.name.text, 15), ("\(s.frames(kind))", 8),
                                   (formatSize(UInt64(s.frames(kind)) * pageSize), 0)], rightAligned: [1]))
        }
        var orders = "Free blocks per order:"
        for order in 0...KernelFrameAllocator.maxOrder { orders += " \(order):\(allocator.freeBlocks(order: order))" }
        print(orders)
        var references = [Int](repeating: 0, count: histogramBuckets)
        var maps = [Int](repeating: 0, count: histogramBuckets)
        var address: UInt64 = 0
        while address < KernelMemory.directMapEnd {
            let physical = PhysicalAddress(address)
            if allocator.kind(of: physical).isHandedOut {
                references[min(Int(allocator.referenceCount(of: physical)), histogramBuckets - 1)] += 1
                maps[min(Int(allocator.mapCount(of: physical)), histogramBuckets - 1)] += 1
            }
            address += pageSize
        }
        print("Handed-out frames by count:  0         1         2         3+")
        print("  reference count   \(histogramLine(references))")
        print("  map count         \(histogramLine(maps))")
    }

    static func histogramLine(_ buckets: [Int]) -> String {
        var line = ""
        for count in buckets { line += MonitorText.pad("\(count)", 10) }
        return line
    }

    /// tlb: the counters HardwareTLB keeps.
    static func tlb() {
        let t = KernelMemory.tlb
        print("TLB flushes since boot (kernel-requested; CR3 loads on task switch not included):")
        print("  single page (invlpg)     \(MonitorText.pad("\(t.singlePageFlushes)", 10, right: true))")
        print("  full, non-global (CR3)   \(MonitorText.pad("\(t.fullFlushes)", 10, right: true))")
        print("  global (CR4.PGE toggle)  \(MonitorText.pad("\(t.globalFlushes)", 10, right: true))")
    }

    /// mem ADDR LEN: through the selected task's page tables (any address
    /// its CR3 maps, the kernel half included).
    static func mem(_ words: [Substring]) {
        guard words.count == 2, let start = MonitorText.parseNumber(words[0]),
              let length = MonitorText.parseNumber(words[1]) else { print("usage: mem ADDR LEN"); return }
        guard let task = KernelMonitor.selectedTask() else { print("mem: no task with an address space"); return }
        print("pid \(task.pid) (\(task.displayName)), virtual:")
        let cr3 = task.cr3
        dump(start, length) { address in
            guard let physical = PageWalk.translate(cr3: cr3, address: address) else { return nil }
            // SAFETY: a present leaf's frame is RAM, inside the direct map.
            return KernelLayout.directMap(physical).load(as: UInt8.self)
        }
    }

    /// phys ADDR LEN: through the direct map, inside RAM only.
    static func phys(_ words: [Substring]) {
        guard words.count == 2, let start = MonitorText.parseNumber(words[0]),
              let length = MonitorText.parseNumber(words[1]) else { print("usage: phys ADDR LEN"); return }
        let end = KernelMemory.directMapEnd
        print("physical:")
        dump(start, length) { address in
            guard address < end else { return nil }
            // SAFETY: below directMapEnd, which the direct map covers.
            return KernelLayout.directMap(address).load(as: UInt8.self)
        }
    }

    /// 16 bytes a line: address, hex bytes, ASCII; "--" for unreadable bytes.
    static func dump(_ start: UInt64, _ requested: UInt64, read: (UInt64) -> UInt8?) {
        let length = min(requested, maximumDump)
        if requested > maximumDump { print("(cut to \(maximumDump) bytes)") }
        guard start <= UInt64.max - length else { print("range wraps around"); return }
        var lineStart = start
        while lineStart < start + length {
            var line = MonitorText.pad(MonitorText.hex(lineStart), 21) + " "
            var ascii = ""
            for offset in 0..<bytesPerDumpLine {
                let address = lineStart + offset
                if address >= start + length { line += "   "; continue }
                if let byte = read(address) {
                    var digits: [UInt8] = []
                    formatHex(UInt64(byte), width: 2, prefix: false) { digits.append($0) }
                    line += String(decoding: digits, as: UTF8.self) + " "
                    ascii += byte >= 0x20 && byte < 0x7F ? String(decoding: [byte], as: UTF8.self) : "."
                } else {
                    line += "-- "; ascii += " "
                }
            }
            print(line + " |" + ascii + "|")
            lineStart += bytesPerDumpLine
        }
    }
}
