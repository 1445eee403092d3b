// User/Programs/bench_fork/bench_fork.c: process costs, per operation.
//   fork_exit_wait_<N>m  fork, the child exits at once, the parent waits,
//                   with N MiB (0, 1, 16, 64) of private memory populated
//   exec            fork, the child execve()s bench_exec_target (in the
//                   directory of argv[0]), which exits 0; wait (lmbench's
//                   lat_proc exec)
// See User/Bench/bench.h for the method and the arguments; "quick" makes
// every populated size 1 MiB.
#include "../../Bench/bench.h"

// Contract: one fork + exit + wait; returns 0, or 1 when fork fails or the
// child did not exit 0.
static int fork_exit_wait(void) {
    long child = sys_fork();
    if (child < 0) return 1;
    if (child == 0) exit_group(0);
    return wait_for(child) == 0 ? 0 : 1;
}

// Contract: prints fork_exit_wait_<name> with `megabytes` MiB written first,
// `batch` operations per sample. Returns 0, or 1 on a failure.
static int fork_with(const char *name, u64 megabytes, int batch, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    char *base = 0;
    if (megabytes) {
        base = map_anonymous(megabytes * MIB, PROT_READ | PROT_WRITE);
        if (!base) { report_failed(name, "mmap"); return 1; }
        for (u64 at = 0; at < megabytes * MIB; at += PAGE_SIZE) base[at] = 1;
    }
    i64 overhead = loop_overhead((u64)batch, repetitions);
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        for (int i = 0; i < batch; i++) {
            if (fork_exit_wait()) { report_failed(name, "fork or child status"); return 1; }
        }
        samples[r] = ((i64)(rdtsc() - start) - overhead) / batch;
    }
    if (base) unmap(base, megabytes * MIB);
    report(name, median(samples, repetitions), "ticks/op");
    return 0;
}

// The path of bench_exec_target beside argv[0] ("/bin/bench_fork" ->
// "/bin/bench_exec_target"), in buffer.
static char *exec_target_path(const char *self, char *buffer, u64 size) {
    static const char target[] = "bench_exec_target";
    u64 length = string_length(self), slash = length;
    while (slash > 0 && self[slash - 1] != '/') slash--;
    if (slash + sizeof target > size) return 0;
    memcpy(buffer, self, slash);
    memcpy(buffer + slash, target, sizeof target);
    return buffer;
}

// Contract: prints exec, `batch` fork+execve+exit+wait per sample. Returns
// 0, or 1 when fork or execve fails.
static int exec(const char *self, int batch, int repetitions) {
    char path[256];
    if (!exec_target_path(self, path, sizeof path)) { report_failed("exec", "path too long"); return 1; }
    char *argv[] = {path, 0};
    char *envp[] = {0};
    i64 samples[MAX_REPETITIONS];
    i64 overhead = loop_overhead((u64)batch, repetitions);
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        for (int i = 0; i < batch; i++) {
            long child = sys_fork();
            if (child < 0) { report_failed("exec", "fork"); return 1; }
            if (child == 0) {
                syscall3(SYS_EXECVE, (long)path, (long)argv, (long)envp);
                exit_group(127);
            }
            if (wait_for(child) != 0) { report_failed("exec", "execve or the target's status"); return 1; }
        }
        samples[r] = ((i64)(rdtsc() - start) - overhead) / batch;
    }
    report("exec", median(samples, repetitions), "ticks/op");
    return 0;
}

static int bench_main(struct options *options) {
    int repetitions = options->repetitions;
    int quick = options->quick;
    int failures = 0;
    failures += fork_with("fork_exit_wait_0m", 0, 8, repetitions);
    failures += fork_with("fork_exit_wait_1m", 1, 4, repetitions);
    failures += fork_with("fork_exit_wait_16m", quick ? 1 : 16, 1, repetitions);
    failures += fork_with("fork_exit_wait_64m", quick ? 1 : 64, 1, repetitions);
    failures += exec(options->argv[0], 4, repetitions);
    return failures ? 1 : 0;
}
