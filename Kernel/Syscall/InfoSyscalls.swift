// uname, sysinfo and clock_gettime.
enum InfoSyscalls {
    /// struct utsname's fields, in order.
    static let utsname: [StaticString] = [
        "SwiftKernel",      // sysname
        "swiftkernel",      // nodename
        "0.3.0",            // release
        "#1 Embedded Swift",// version
        "x86_64",           // machine
        "(none)",           // domainname
    ]

    static func uname(buffer: UInt64) -> SyscallOutcome {
        let size = ProcessABI.utsnameFieldLength * ProcessABI.utsnameFieldCount
        var bytes = [UInt8](repeating: 0, count: size)
        for (index, field) in utsname.enumerated() {
            field.withUTF8Buffer { text in
                for (offset, byte) in text.enumerated() { bytes[index * ProcessABI.utsnameFieldLength + offset] = byte }
            }
        }
        let copied = bytes.withUnsafeBytes { UserMemory.copyOut($0.baseAddress!, to: buffer, count: size) }
        return copied ? .value(0) : .error(.EFAULT)
    }

    /// sysinfo(info): uptime, total and free RAM and the number of tasks,
    /// in bytes with mem_unit 1 (Linux do_sysinfo scales to mem_unit 1
    /// whenever the totals fit in an unsigned long, always on x86-64).
    /// Free RAM is the frame allocator's free frames: frames the page cache
    /// holds are not free (Linux counts its page cache in bufferram/cached,
    /// not in freeram, alike). Known deviations: the load averages, shared,
    /// buffer and swap fields are 0; procs counts every task, zombies too.
    static func sysinfo(buffer: UInt64) -> SyscallOutcome {
        var bytes = [UInt8](repeating: 0, count: ProcessABI.sysinfoSize)
        let statistics = KernelMemory.frames.statistics
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            for index in 0..<(T.bitWidth / 8) { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
        }
        put(Int64(Clock.monotonicNanoseconds() / Clock.nanosecondsPerSecond), at: ProcessABI.sysinfoUptime)
        put(UInt64(statistics.totalFrames) * pageSize, at: ProcessABI.sysinfoTotalRAM)
        put(UInt64(statistics.freeFrames) * pageSize, at: ProcessABI.sysinfoFreeRAM)
        put(UInt16(clamping: Scheduler.tasks.count), at: ProcessABI.sysinfoProcs)
        put(UInt32(1), at: ProcessABI.sysinfoMemUnit)
        let copied = bytes.withUnsafeBytes { UserMemory.copyOut($0.baseAddress!, to: buffer, count: bytes.count) }
        return copied ? .value(0) : .error(.EFAULT)
    }

    /// Every clock counts from boot: there is no real-time clock driver
    /// yet, so CLOCK_REALTIME starts at the epoch when the kernel boots.
    static func clockGettime(clock: Int64, buffer: UInt64) -> SyscallOutcome {
        guard clock >= 0 else { return .error(.EINVAL) }   // per-process CPU clocks: not implemented
        switch UInt64(clock) {
        case ProcessABI.clockRealtime, ProcessABI.clockMonotonic, ProcessABI.clockMonotonicRaw,
             ProcessABI.clockRealtimeCoarse, ProcessABI.clockMonotonicCoarse, ProcessABI.clockBoottime:
            break
        default:
            return .error(.EINVAL)
        }
        let now = Clock.monotonicNanoseconds()
        let timespec = (Int64(now / Clock.nanosecondsPerSecond), Int64(now % Clock.nanosecondsPerSecond))
        return UserMemory.store(timespec, at: buffer) ? .value(0) : .error(.EFAULT)
    }
}
