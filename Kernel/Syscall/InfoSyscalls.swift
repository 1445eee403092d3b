// uname and clock_gettime.
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
