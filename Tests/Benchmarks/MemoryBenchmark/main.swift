// `make bench-host`: prints ns per operation of the memory code, on a
// simulated 1 GiB machine. Figures only: nothing here passes or fails.
print("Memory benchmarks (host, simulated 1 GiB machine, release build)")
runFrameBenchmarks()
runPagingBenchmarks()
runFaultBenchmarks()
