func runFrameBenchmarks() {}
