// User/Programs/fuzz: a syscall fuzzer (issue [6]).
//
//     /bin/fuzz [seed] [count]        (defaults: seed 1, count 2000)
//
// Issues `count` random syscalls with random and boundary arguments,
// biased towards mmap, munmap, mprotect and brk, fork, exit and wait4.
// They run in children, ROUND_STEPS per child, each child seeded from
// (seed, round), so one seed replays the same run: a child may map over
// its own stack or text and die, and only the kernel must survive. Children
// fork grandchildren (bounded depth and fan-out) and reap them; the driver
// reaps everything at the end, orphans included when it runs as init.
// Never used: valid execve paths (they would replace the fuzzer), reads of
// fds 0-2 (the console: reads block, writes put garbage on the log).
// Prints the seed first and "FUZZ SUMMARY ..." last. The kernel must not
// panic, and (checked by qemu/run-user-tests.sh) frames come back to baseline.
#include "../../Runtime/ctest.h"

enum { ROUND_STEPS = 100, MAX_DEPTH = 2, MAX_CHILDREN = 3, POOL = 8 };
enum { MAP_SHARED = 0x01, MAP_FIXED_NOREPLACE = 0x100000 };

static u64 state;
static u64 next_random(void) {  // SplitMix64
    u64 z = (state += 0x9e3779b97f4a7c15UL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
    return z ^ (z >> 31);
}
static u64 below(u64 n) { return next_random() % n; }

static u64 open_flag_mask = 0x3fffff;   // on Linux: without O_CREAT and O_TRUNC (see test_main)
static u64 mapped[POOL];        // addresses mmap returned, for munmap/mprotect/MAP_FIXED
static int depth, live_children;
static char scratch[256];

static u64 pick_address(void) {
    static const u64 fixed[] = {
        0, 1, 0xfff, 0x10000, 0x400000, 0x401000, 0x7f7ffffff000UL, 0x7f7fffffeff8UL,
        0x7f8000000000UL, 0x7fffffffffffUL, 0x800000000000UL, 0xffff800000000000UL,
        0xffffffffff600000UL, (u64)-4096, (u64)-1, 0xdeadbeefdeadbeefUL,
    };
    switch (below(4)) {
    case 0: return fixed[below(sizeof fixed / 8)];
    case 1: return mapped[below(POOL)] + (below(2) ? 0 : below(3) * PAGE_SIZE);
    case 2: return (u64)scratch + below(2) * below(sizeof scratch);
    default: return below(1UL << 47) & ~(below(2) ? PAGE_SIZE - 1 : 0);
    }
}
static u64 pick_length(void) {
    static const u64 fixed[] = {0, 1, 7, 4095, 4096, 4097, 8192, 1UL << 16, 1UL << 20, 1UL << 24,
                                1UL << 47, (u64)-1, (u64)-4096, 0x100000040UL};
    return below(3) ? fixed[below(sizeof fixed / 8)] : below(1 << 15);
}
static u64 pick_fd(int writable) {
    static const u64 fixed[] = {(u64)-1, 0, 3, 4, 5, 63, 64, 1UL << 31, 0xffffffff00000003UL, (u64)-100};
    u64 fd = below(2) ? fixed[below(sizeof fixed / 8)] : below(8);
    // Fds 0-2 are the console: a read blocks for input that never comes,
    // a write puts garbage on the log.
    if (fd <= 2) fd = 3;
    (void)writable;
    return fd;
}
static u64 pick_prot(void) { return below(4) ? below(8) : next_random(); }
static u64 pick_map_flags(void) {
    static const u64 fixed[] = {MAP_PRIVATE | MAP_ANONYMOUS, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED | MAP_ANONYMOUS,
                                MAP_ANONYMOUS, 0};
    return below(6) ? fixed[below(sizeof fixed / 8)] : next_random();
}
static u64 pick_path(void) {
    static const char *paths[] = {"/", "/bin", "/bin/", "", "/nonexistent", "bin", "/bin/../bin", "/bin/init/x"};
    return below(3) ? (u64)paths[below(sizeof paths / sizeof paths[0])] : pick_address();
}

static void run_steps(int steps);
static int verbose;   // argv[3] == "v": print each syscall before it runs (replaying a crash)
static long traced(long n, long a, long b, long c, long d, long e, long f) {
    if (verbose) {
        ct_puts("fuzz: pid "); ct_put_dec(sc0(SYS_getpid)); ct_puts(" sys "); ct_put_dec(n);
        long args[6] = {a, b, c, d, e, f};
        for (int i = 0; i < 6; i++) { ct_puts(" "); ct_put_hex((u64)args[i]); }
        ct_puts("\n");
    }
    return sc6(n, a, b, c, d, e, f);
}
#define sc6(n, a, b, c, d, e, f) traced(n, a, b, c, d, e, f)
#define sc3(n, a, b, c) traced(n, a, b, c, 0, 0, 0)
#define sc1(n, a) traced(n, a, 0, 0, 0, 0, 0)

static void one_syscall(void) {
    u64 r = below(100);
    long result;
    if (r < 20) {
        result = sc6(SYS_mmap, (long)pick_address(), (long)pick_length(), (long)pick_prot(), (long)pick_map_flags(),
                     (long)pick_fd(0), (long)(below(4) ? 0 : pick_length()));
        if (!mmap_failed((void *)result)) mapped[below(POOL)] = (u64)result;
    } else if (r < 32) {
        sc3(SYS_munmap, (long)pick_address(), (long)pick_length(), 0);
    } else if (r < 44) {
        sc3(SYS_mprotect, (long)pick_address(), (long)pick_length(), (long)pick_prot());
    } else if (r < 52) {
        u64 current = (u64)sc1(SYS_brk, 0);
        sc1(SYS_brk, (long)(below(2) ? current + below(1 << 20) - (1 << 19) : pick_address()));
    } else if (r < 56) {
        if (depth >= MAX_DEPTH || live_children >= MAX_CHILDREN) return;
        long pid = sc0(SYS_fork);
        if (pid == 0) {
            depth++; live_children = 0;
            state ^= 0x5bd1e995UL * (u64)sc0(SYS_getpid);
            run_steps(ROUND_STEPS / 4);
            sys_exit((int)below(256));
        }
        if (pid > 0) live_children++;
    } else if (r < 62) {
        int status;
        u64 options = below(3) ? 1 /* WNOHANG */ : (below(2) ? 0 : next_random());
        if (options == 0 && live_children == 0) options = 1;      // would block forever? no: ECHILD; keep it cheap
        long pid = sc6(SYS_wait4, below(2) ? -1 : (long)next_random(), below(4) ? (long)&status : (long)pick_address(),
                       (long)options, below(4) ? 0 : (long)pick_address(), 0, 0);
        if (pid > 0 && live_children > 0) live_children--;
    } else if (r < 63) {
        if (depth > 0) sys_exit((int)below(256));
    } else if (r < 66) {
        static const int simple[] = {SYS_getpid, SYS_getppid, SYS_sched_yield};
        sc0(simple[below(3)]);
    } else if (r < 71) {
        sc3(SYS_read, (long)pick_fd(0), (long)pick_address(), (long)pick_length());
    } else if (r < 75) {
        sc3(SYS_write, (long)pick_fd(1), (long)pick_address(), (long)pick_length());
    } else if (r < 80) {
        if (below(2)) sc3(SYS_open, (long)pick_path(), (long)(next_random() & open_flag_mask), 0);
        else sc6(SYS_openat, (long)pick_fd(0), (long)pick_path(), (long)(next_random() & open_flag_mask), 0, 0, 0);
    } else if (r < 84) {
        sc1(SYS_close, (long)pick_fd(0));
    } else if (r < 88) {
        sc3(SYS_getdents64, (long)pick_fd(0), (long)pick_address(), (long)pick_length());
    } else if (r < 90) {
        // Never a valid program: a bad path, or a valid pointer to a missing file.
        static const char *missing[] = {"/nonexistent", "", "/bin/", "/bin/hello/"};
        u64 path = below(2) ? (u64)missing[below(4)] : pick_address();
        if (path == 0x400000 || path == 0x401000) path = 1;
        sc3(SYS_execve, (long)path, (long)pick_address(), (long)pick_address());
    } else if (r < 92) {
        sc1(SYS_uname, (long)pick_address());
    } else if (r < 95) {
        sc3(SYS_clock_gettime, (long)(below(2) ? below(12) : next_random()), (long)pick_address(), 0);
    } else {
        // Unknown and boundary numbers; keep away from the implemented ones that block or replace.
        u64 n = below(2) ? 500 + below(1000) : next_random() | 0x100000000UL;
        if ((n & 0xffffffffUL) < 300) n = 1000;
        sc6((long)n, (long)next_random(), (long)next_random(), (long)next_random(), 0, 0, 0);
    }
}

static void reap_all(void) {
    int status;
    while (sc6(SYS_wait4, -1, (long)&status, 0, 0, 0, 0) > 0) { }
    live_children = 0;
}

static void run_steps(int steps) {
    for (int i = 0; i < steps; i++) one_syscall();
    reap_all();
}

static u64 parse(const char *s, u64 fallback) {
    if (!s || !*s) return fallback;
    u64 v = 0;
    for (; *s; s++) { if (*s < '0' || *s > '9') return fallback; v = v * 10 + (u64)(*s - '0'); }
    return v;
}

static long now_ms(void) {
    long ts[2];
    sc6(SYS_clock_gettime, 1, (long)ts, 0, 0, 0, 0);
    return ts[0] * 1000 + ts[1] / 1000000;
}

int test_main(int argc, char **argv) {
    u64 seed = parse(argc > 1 ? argv[1] : 0, 1), count = parse(argc > 2 ? argv[2] : 0, 2000);
    verbose = argc > 3 && argv[3][0] == 'v';
    ct_puts("fuzz: seed "); ct_put_dec((long)seed); ct_puts(" count "); ct_put_dec((long)count);
    ct_puts(" (replay: /bin/fuzz "); ct_put_dec((long)seed); ct_puts(" "); ct_put_dec((long)count); ct_puts(")\n");
    // On Linux (a debugging aid only) never create or truncate a host file.
    if (!on_swiftkernel()) open_flag_mask &= ~(u64)(0100 | 01000);
    sc1(SYS_close, 0);   // a reused fd 0 is then a file, never the console
    long start = now_ms();
    u64 rounds = (count + ROUND_STEPS - 1) / ROUND_STEPS, exited = 0, killed = 0;
    for (u64 round = 0; round < rounds; round++) {
        long pid = sc0(SYS_fork);
        if (pid == 0) {
            state = seed * 0x100000001b3UL + round;
            for (int i = 0; i < POOL; i++) mapped[i] = 0x10000000UL + (u64)i * 0x100000;
            run_steps(ROUND_STEPS);
            sys_exit(0);
        }
        if (pid < 0) { fail_begin("fork"); ct_put_dec(pid); ct_puts("\n"); break; }
        int status = 0;
        if (sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0) != pid) { fail_begin("wait4"); ct_puts("\n"); break; }
        if (status_exited(status)) exited++; else killed++;
        reap_all();   // orphans adopted when running as init
    }
    long elapsed = now_ms() - start;
    ct_puts("FUZZ SUMMARY seed="); ct_put_dec((long)seed); ct_puts(" rounds="); ct_put_dec((long)rounds);
    ct_puts(" syscalls<="); ct_put_dec((long)(rounds * ROUND_STEPS)); ct_puts(" exited="); ct_put_dec((long)exited);
    ct_puts(" killed="); ct_put_dec((long)killed); ct_puts(" ms="); ct_put_dec(elapsed);
    ct_puts(" rate="); ct_put_dec(elapsed > 0 ? (long)(rounds * ROUND_STEPS * 1000 / (u64)elapsed) : 0);
    ct_puts("/s\n");
    check("fuzz-run-completed", exited + killed == rounds, "a round could not be started or waited for");
    return 0;
}
