// `make bench-host`: prints ns per operation of the memory code (frames,
// page tables, faults, the region index), on a
// simulated 1 GiB machine. Figures only: nothing here passes or fails.
// With the argument `regions`, only the region index's figures; with
// `protect`, only mprotect's.
print("Memory benchmarks (host, simulated 1 GiB machine, release build)")
let only = CommandLine.arguments.dropFirst()
if only.contains("protect") {
    runProtectBenchmarks()
} else if !only.contains("regions") {
    runFrameBenchmarks()
    runPagingBenchmarks()
    runFaultBenchmarks()
    runProtectBenchmarks()
}
if !only.contains("protect") { runRegionBenchmarks() }
