func runPagingBenchmarks() {}
