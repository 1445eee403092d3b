// User/Programs/spin/main.swift: /bin/spin, a CPU hog for watching the
// scheduler preempt.
//
// `spin` loops forever in ring 3 without a single system call; `spin N`
// burns CPU for N seconds (by the monotonic clock) and exits 0. Run as
// `spin &` from the shell, it shows that timer preemption keeps the shell
// responsive while a process never yields. The loop increments a global
// through an asm statement the optimiser must keep, so it cannot be removed
// or folded. Prints nothing except a usage message on a bad argument.
import UserRT
import UserRuntime

/// Increments between two clock reads in timed mode: long enough that the
/// process spends nearly all its time in user mode, short enough (well under
/// a millisecond natively, a few under TCG) that the deadline is met closely.
let incrementsPerClockCheck = 65_536
/// Longest run `spin N` accepts (one day).
let maxSeconds = 86_400
let nanosecondsPerSecond = 1_000_000_000
let usageExitCode = 2
let clockFailedExitCode = 1

/// The busy counter; global so every increment is a real memory update.
nonisolated(unsafe) var spinCounter: UInt64 = 0

@main
struct Spin {
    /// Spins forever (no argument) or for argv[1] seconds.
    static func main() {
        guard ProcessInfo.argc <= 2 else { usage() }
        guard let argument = ProcessInfo.argument(1) else { spinForever() }
        guard let seconds = parseDecimal(argument, limit: maxSeconds) else { usage() }
        spin(forNanoseconds: seconds * nanosecondsPerSecond)
        sys_exit_group(0)
    }

    /// Loops without system calls until the process is killed.
    static func spinForever() -> Never {
        while true { burn(incrementsPerClockCheck) }
    }

    /// Loops until `duration` nanoseconds of monotonic time have passed,
    /// reading the clock every `incrementsPerClockCheck` increments. Exits 1
    /// if the clock cannot be read.
    static func spin(forNanoseconds duration: Int) {
        let start = monotonicNanoseconds()
        guard start >= 0 else { clockFailed() }
        while true {
            let now = monotonicNanoseconds()
            guard now >= 0 else { clockFailed() }
            if now - start >= duration { return }
            burn(incrementsPerClockCheck)
        }
    }

    /// Increments `spinCounter` `count` times, each increment a kept store.
    static func burn(_ count: Int) {
        withUnsafeMutablePointer(to: &spinCounter) { counter in
            for _ in 0..<count { user_volatile_increment(counter) }
        }
    }

    /// Prints the usage and exits 2.
    static func usage() -> Never {
        put("usage: spin [seconds]  (no argument: spin forever; seconds at most 86400)"); newline()
        sys_exit_group(usageExitCode)
    }

    /// Reports a failing clock_gettime and exits 1.
    static func clockFailed() -> Never {
        put("spin: clock_gettime(CLOCK_MONOTONIC) failed"); newline()
        sys_exit_group(clockFailedExitCode)
    }
}
