// User/Programs/bench_run/bench_run.c: the benchmark driver, init on both
// kernels (`make bench`, bench/README.md). Runs each bench_* program from
// the directory of its own argv[0], one after the other (fork + execve +
// wait4), passing the repetition count and "quick" on, and prints
//   BENCHRUN <program> exit <code>       after each (or "signal <number>",
//                                        or "exit -1" when it could not run)
//   BENCHRUN done failed=<N>             at the end
// Exits 0 when every program exited 0.
//
//   bench_run [repetitions [quick]] [poweroff]
// "poweroff": end with reboot(RB_POWER_OFF) instead of exiting (Linux's init
// must not exit; this kernel powers off when init exits and has no reboot).
#include "../../Bench/bench.h"

enum {
    LINUX_REBOOT_MAGIC1 = (int)0xfee1dead, LINUX_REBOOT_MAGIC2 = 672274793,
    LINUX_REBOOT_CMD_POWER_OFF = 0x4321fedc,
};

static const char *const programs[] = {
    "bench_syscall", "bench_fault", "bench_mmap", "bench_fork", "bench_regions",
};

// Contract: runs directory/name with the given arguments; returns its wait
// status, or -1 when fork, execve or wait4 failed.
static int run(const char *self, const char *name, char *repetitions, char *quick) {
    char path[256];
    u64 slash = string_length(self);
    while (slash > 0 && self[slash - 1] != '/') slash--;
    u64 length = string_length(name);
    if (slash + length + 1 > sizeof path) return -1;
    memcpy(path, self, slash);
    memcpy(path + slash, name, length + 1);
    char *argv[] = {path, repetitions, quick, 0};
    char *envp[] = {0};
    long child = sys_fork();
    if (child < 0) return -1;
    if (child == 0) {
        syscall3(SYS_EXECVE, (long)path, (long)argv, (long)envp);
        put_line("BENCHRUN ", name, " execve failed", 0);
        exit_group(127);
    }
    return wait_for(child);
}

static int bench_main(struct options *options) {
    char repetitions[24], status_text[24], failed_text[24];
    int poweroff = 0;
    char *quick = options->quick ? "quick" : 0;
    for (char **argument = options->argv + 1; *argument; argument++) {
        if (string_equal(*argument, "poweroff")) poweroff = 1;
    }
    decimal(options->repetitions, repetitions);
    put_line("BENCHRUN start repetitions=", repetitions, quick ? " quick" : "", 0);
    int failed = 0;
    for (unsigned i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        int status = run(options->argv[0], programs[i], repetitions, quick);
        if (status != 0) failed++;
        if (status > 0 && (status & 0x7f) != 0) {
            put_line("BENCHRUN ", programs[i], " signal ", decimal(status & 0x7f, status_text));
        } else {
            put_line("BENCHRUN ", programs[i], " exit ", decimal(status < 0 ? -1 : (status >> 8) & 0xff, status_text));
        }
    }
    put_line("BENCHRUN done failed=", decimal(failed, failed_text), 0, 0);
    if (poweroff) {
        syscall6(SYS_REBOOT, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0, 0);
    }
    return failed ? 1 : 0;
}
