import HAL

// The monotonic clock behind clock_gettime: PIT ticks for the coarse
// count, refined by the TSC between ticks (Linux's tick plus a
// clocksource). Between two ticks the TSC's share is clamped below one tick
// period, so the clock can never run ahead of the next tick and never goes
// backwards.
enum Clock {
    static let nanosecondsPerSecond: UInt64 = 1_000_000_000
    static let nanosecondsPerTick = nanosecondsPerSecond / PIT.tickHz

    nonisolated(unsafe) private static var tscAtLastTick: UInt64 = 0
    /// TSC cycles in the last full tick period; 0 until two ticks were seen.
    nonisolated(unsafe) private static var cyclesPerTick: UInt64 = 0
    /// The highest value handed out, to keep readings monotonic.
    nonisolated(unsafe) private static var lastReading: UInt64 = 0

    /// Called on every PIT interrupt.
    static func tick() {
        let now = hal_rdtsc()
        if tscAtLastTick != 0 { cyclesPerTick = now &- tscAtLastTick }
        tscAtLastTick = now
        PIT.ticks += 1
    }

    /// Nanoseconds since the PIT started; never decreases.
    static func monotonicNanoseconds() -> UInt64 {
        var reading = PIT.ticks * nanosecondsPerTick
        if cyclesPerTick > 0 {
            let cycles = min(hal_rdtsc() &- tscAtLastTick, cyclesPerTick)
            // cycles <= cyclesPerTick, so this overflows only for a TSC
            // beyond 10^12 cycles per tick; then the tick alone counts.
            let (scaled, overflow) = cycles.multipliedReportingOverflow(by: nanosecondsPerTick)
            if !overflow { reading += min(scaled / cyclesPerTick, nanosecondsPerTick - 1) }
        }
        lastReading = max(lastReading, reading)
        return lastReading
    }
}
