// User/Programs/bench_syscall/bench_syscall.c: the null-syscall costs,
// getpid and sched_yield (alone on the CPU, so it returns at once), per
// call. See User/Bench/bench.h for the method and the arguments.
#include "../../Bench/bench.h"

enum { CALLS_PER_SAMPLE = 1000 };

// Contract: prints "BENCH <name> <ticks per call> ticks/call" for
// CALLS_PER_SAMPLE calls of `number` (no arguments) per sample.
static void null_syscall(const char *name, long number, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    i64 overhead = loop_overhead(CALLS_PER_SAMPLE, repetitions);
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        for (int i = 0; i < CALLS_PER_SAMPLE; i++) syscall3(number, 0, 0, 0);
        samples[r] = ((i64)(rdtsc() - start) - overhead) / CALLS_PER_SAMPLE;
    }
    report(name, median(samples, repetitions), "ticks/call");
}

static int bench_main(struct options *options) {
    null_syscall("getpid", SYS_GETPID, options->repetitions);
    null_syscall("sched_yield", SYS_SCHED_YIELD, options->repetitions);
    return 0;
}
