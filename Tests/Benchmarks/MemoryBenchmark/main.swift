// `make bench-host`: prints ns per operation of the memory code (frames,
// page tables, faults, the region index), on a
// simulated 1 GiB machine. Figures only: nothing here passes or fails.
// With the argument `regions`, only the region index's figures.
print("Memory benchmarks (host, simulated 1 GiB machine, release build)")
if !CommandLine.arguments.dropFirst().contains("regions") {
    runFrameBenchmarks()
    runPagingBenchmarks()
    runFaultBenchmarks()
}
runRegionBenchmarks()
