// User/Tests/exhaustion: execve's argument limits, deep recursion into the
// stack guard, and one mprotect and one munmap across 20,000 regions
// (issue [6], "Exhaustion"), with a spinning sibling that proves the timer
// keeps scheduling meanwhile.
//
// execve, as Linux's fs/exec.c counts (bprm_stack_limits, copy_strings):
//   - one string may take MAX_ARG_STRLEN (131072) bytes with its NUL;
//     one byte more is E2BIG;
//   - the strings (the path first, then envp's and argv's, NULs included)
//     and the pointers ((max(argc, 1) + envc) * 8) may take the budget:
//     a quarter of RLIMIT_STACK, at most 6 MiB, at least 128 KiB (2 MiB
//     with the default 8 MiB); exactly the budget runs, one byte more is
//     E2BIG: once with 16 long strings, once with ~200,000 one-byte ones;
//   - pointers alone that fill the budget are E2BIG before any string is read.
// The successful cases exec this program as a target, which checks that
// every string arrived intact and exits TARGET_OK.
// The sibling adds to a counter in shared memory; after each case the
// counter must have moved, and each case reports how long its longest
// syscall kept the CPU (rdtsc, calibrated against CLOCK_MONOTONIC): the
// kernel runs syscalls with interrupts off, so that is how long the
// timer was held off.
// The region cases split one mapping into 20,000 alternating regions
// (mprotect of every other page), then time one mprotect that merges them
// all back, and (split again, some pages resident) one munmap of them all.
// Elsewhere: fork_bomb (fork until EAGAIN/ENOMEM), oom (mmap and touch
// until out of memory), many_regions (the region limit).
#include "ctest.h"

enum { E2BIG = 7, ENOMEM = 12, TARGET_OK = 42, TARGET_BAD = 43, RLIMIT_STACK = 3, SYS_prlimit64 = 302 };
enum { MAX_ARG_STRLEN = 32 * 4096, ARG_MAX = 32 * 4096, STK_LIM = 8 << 20 };
enum { CLOCK_MONOTONIC = 1 };
#define TARGET_FLAG "--exhaustion-target"
// The slowest a single syscall may be (ms) before the case fails: far above
// what it takes (printed), low enough to catch a quadratic copy.
#define SLOWEST_SYSCALL_MS 3000

static const char *self_path;
static long budget;                    // bytes for strings and pointers
static volatile u64 *shared;           // [0] sibling counter, [1] stop, [2] a child's result, [3] its cycles
static u64 cycles_per_ms;

static u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return (u64)hi << 32 | lo; }
static u64 now_ns(void) {
    long ts[2];
    sc3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)ts, 0);
    return (u64)ts[0] * 1000000000UL + (u64)ts[1];
}
static int equal(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }
static long parse(const char *s) { long v = 0; while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0'); return v; }
static char *format(char *p, long v) {             // writes v in decimal and a NUL, returns past the NUL
    char b[24]; int n = 0;
    do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = b[--n];
    *p++ = 0;
    return p;
}

// ---- The exec target ------------------------------------------------------------
// argv: [name, TARGET_FLAG, "<bytes>", strings...]: every string after the
// third is all 'x', and their lengths with NULs add up to <bytes>.
static void run_as_target(int argc, char **argv) {
    long expected = parse(argv[2]), total = 0;
    for (int i = 3; i < argc; i++) {
        for (const char *s = argv[i]; *s; s++) if (*s != 'x') sys_exit(TARGET_BAD);
        total += (long)ct_strlen(argv[i]) + 1;
    }
    sys_exit(total == expected ? TARGET_OK : TARGET_BAD);
}

// ---- Building an argv ----------------------------------------------------------
static void *map(u64 bytes) {
    void *p = sys_mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (mmap_failed(p)) sys_exit(3);
    return p;
}

// argv = [name, TARGET_FLAG, "<bytes>", `count` strings of 'x' whose
// lengths with NULs total `bytes`, each at most `longest` with its NUL].
static char **build_argv(long count, long bytes, long longest) {
    char **argv = map((u64)(count + 4) * 8);
    char *text = map((u64)bytes + 64);
    char *header = map(64);
    argv[0] = "exhaustion"; argv[1] = TARGET_FLAG; argv[2] = header;
    format(header, bytes);
    char *p = text;
    long left = bytes;
    for (long i = 0; i < count; i++) {
        long len = left - (count - 1 - i);         // what the rest need at least (1 each)
        if (len > longest) len = longest;
        argv[3 + i] = p;
        for (long j = 0; j < len - 1; j++) *p++ = 'x';
        *p++ = 0;
        left -= len;
    }
    argv[3 + count] = 0;
    return argv;
}

// The header's own bytes: name, flag, the decimal of `bytes`, NULs included.
static long header_bytes(long bytes) {
    char b[24];
    return (long)(ct_strlen("exhaustion") + 1 + ct_strlen(TARGET_FLAG) + 1) + (long)(format(b, bytes) - b);
}

static const char *const empty_envp[] = {0};

// Runs execve in the child: its result and cycles go to shared[2], shared[3].
static void exec_and_record(char **argv) {
    u64 start = rdtsc();
    long r = sc3(SYS_execve, (long)self_path, (long)argv, (long)empty_envp);
    shared[3] = rdtsc() - start;
    shared[2] = (u64)r;
}

// ---- Cases ---------------------------------------------------------------------
enum { LONG_STRINGS, TINY_STRINGS, POINTERS_ONLY, ONE_STRING };
struct exec_case { const char *name; int shape; long extra; int expect_ok; };
static const struct exec_case exec_cases[] = {
    {"one-string-of-MAX_ARG_STRLEN", ONE_STRING, 0, 1},
    {"one-string-of-MAX_ARG_STRLEN+1", ONE_STRING, 1, 0},
    {"long-strings-fill-the-budget", LONG_STRINGS, 0, 1},
    {"long-strings-one-byte-over", LONG_STRINGS, 1, 0},
    {"tiny-strings-fill-the-budget", TINY_STRINGS, 0, 1},
    {"tiny-strings-one-over", TINY_STRINGS, 1, 0},
    {"pointers-alone-fill-the-budget", POINTERS_ONLY, 0, 0},
};

static void exec_case_body(u64 index) {
    const struct exec_case *c = &exec_cases[index];
    long path = (long)ct_strlen(self_path) + 1;
    switch (c->shape) {
    case ONE_STRING: {
        long bytes = MAX_ARG_STRLEN + c->extra;
        exec_and_record(build_argv(1, bytes, bytes));
        return;
    }
    case LONG_STRINGS: {
        // Strings of MAX_ARG_STRLEN: find the count whose pointers and
        // strings take the budget exactly (the count changes the pointers).
        long count = 1, bytes = 0;
        for (int round = 0; round < 8; round++) {
            bytes = budget - (3 + count) * 8 - path - header_bytes(budget);
            count = (bytes + MAX_ARG_STRLEN - 1) / MAX_ARG_STRLEN;
        }
        bytes = budget - (3 + count) * 8 - path - header_bytes(bytes);
        exec_and_record(build_argv(count, bytes + c->extra, MAX_ARG_STRLEN));
        return;
    }
    case TINY_STRINGS: {
        // Each "x" takes 2 bytes and its pointer 8.
        long fixed = 3 * 8 + path + header_bytes(200000);
        long count = (budget - fixed) / 10 + c->extra;
        exec_and_record(build_argv(count, 2 * count, 2));
        return;
    }
    case POINTERS_ONLY: {
        long count = budget / 8;
        char **argv = map((u64)(count + 1) * 8);
        for (long i = 0; i < count; i++) argv[i] = "x";
        argv[count] = 0;
        exec_and_record(argv);
        return;
    }
    }
}

static u64 slowest_cycles;

// The sibling must have run since `before`: yield until it has, a bounded number of times.
static int sibling_moved(u64 before) {
    for (int i = 0; i < 100000 && shared[0] == before; i++) sc0(SYS_sched_yield);
    return shared[0] != before;
}

static void exec_cases_run(void) {
    for (u64 i = 0; i < sizeof exec_cases / sizeof exec_cases[0]; i++) {
        const struct exec_case *c = &exec_cases[i];
        u64 before = shared[0];
        shared[2] = 0; shared[3] = 0;
        int status = run_child(exec_case_body, i);
        if (status == -1) continue;
        if (c->expect_ok) {
            expect_status(c->name, status, 0, TARGET_OK);
        } else {
            long r = (long)shared[2];
            int ok = status_exited(status) && status_code(status) == 0 && r == -E2BIG;
            if (ok) pass(c->name);
            else { fail_begin(c->name); ct_puts("execve gave "); ct_put_dec(r); ct_puts(", child "); put_status(status); ct_puts("\n"); }
            if (shared[3] > slowest_cycles) slowest_cycles = shared[3];
            ct_puts("note: "); ct_puts(c->name); ct_puts(": execve took "); ct_put_dec((long)(shared[3] / cycles_per_ms));
            ct_puts(" ms\n");
        }
        char name[80]; u64 n = 0;
        for (const char *t = "sibling-ran-during-"; *t; t++) name[n++] = *t;
        for (const char *t = c->name; *t && n < sizeof name - 1; t++) name[n++] = *t;
        name[n] = 0;
        check(name, sibling_moved(before), "the spinning sibling made no progress");
    }
}

// Deep recursion: 4 KiB frames until the stack runs out: SIGSEGV on both
// (Linux at RLIMIT_STACK, 8 MiB; SwiftKernel at its guard page).
static volatile int recursion_limit = 1 << 30;   // never reached; hides the recursion from -Winfinite-recursion
static int recurse(int depth) {
    volatile char frame[4096];
    frame[0] = (char)depth;
    frame[4095] = (char)depth;
    if (depth >= recursion_limit) return 0;
    return recurse(depth + 1) + frame[0] + frame[4095];
}
static void deep_recursion(u64 unused) { (void)unused; shared[2] = (u64)recurse(0); }
// A store 1 MiB below the stack pointer, past any guard page. Linux grows
// the stack there (it is within RLIMIT_STACK); SwiftKernel's stack is a
// fixed region (128 KiB, no growth: a deliberate deviation, ProgramLoader),
// so the store lands in the unmapped gap below it: SIGSEGV, never another
// mapping and never the kernel.
static void huge_frame(u64 unused) {
    (void)unused;
    __asm__ volatile("sub $0x100000, %%rsp\n movb $1, (%%rsp)\n add $0x100000, %%rsp" ::: "memory");
}

static void spin(u64 unused) {
    (void)unused;
    while (!shared[1]) shared[0]++;
    sys_exit(0);
}

// ---- One mprotect and one munmap across tens of thousands of regions -------------
enum { REGION_PAGES = 20000 };

// Every other page of [base, base + REGION_PAGES pages) read-write, the rest
// read-only: REGION_PAGES regions that cannot merge. Returns 1 on success.
static int split_alternating(char *base) {
    for (u64 i = 1; i < REGION_PAGES; i += 2)
        if (sc3(SYS_mprotect, (long)(base + i * PAGE_SIZE), PAGE_SIZE, PROT_READ | PROT_WRITE) != 0) return 0;
    for (u64 i = 1; i < REGION_PAGES; i += 64) base[i * PAGE_SIZE] = 1;   // some resident pages to unmap
    return 1;
}

// One syscall, its duration added to the slowest seen; returns its result.
static long timed(const char *what, long n, long a, long b, long c) {
    u64 c0 = rdtsc();
    long r = sc3(n, a, b, c);
    u64 cycles = rdtsc() - c0;
    if (cycles > slowest_cycles) slowest_cycles = cycles;
    ct_puts("note: "); ct_puts(what); ct_puts(" took "); ct_put_dec((long)(cycles / cycles_per_ms)); ct_puts(" ms\n");
    return r;
}

static void region_cases(void) {
    u64 bytes = (u64)REGION_PAGES * PAGE_SIZE;
    char *base = sys_mmap(0, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    if (mmap_failed(base)) { check("regions-mapped", 0, "mmap failed"); return; }
    check("regions-split-for-mprotect", split_alternating(base), "an mprotect splitting a page failed");
    u64 before = shared[0];
    long r = timed("one mprotect across 20000 regions", SYS_mprotect, (long)base, (long)bytes, PROT_READ);
    check("one-mprotect-across-20000-regions", r == 0, "the merging mprotect failed");
    check("sibling-ran-after-the-mprotect", sibling_moved(before), "the spinning sibling made no progress");
    check("regions-split-for-munmap", split_alternating(base), "an mprotect splitting a page failed");
    before = shared[0];
    r = timed("one munmap of 20000 regions", SYS_munmap, (long)base, (long)bytes, 0);
    check("one-munmap-of-20000-regions", r == 0, "the munmap failed");
    check("sibling-ran-after-the-munmap", sibling_moved(before), "the spinning sibling made no progress");
    // Nothing is left there: mprotect of an unmapped page is ENOMEM.
    check("munmap-left-no-region", sc3(SYS_mprotect, (long)base, PAGE_SIZE, PROT_READ) == -ENOMEM,
          "a page of the unmapped range is still mapped");
}

static void calibrate(void) {
    u64 t0 = now_ns(), c0 = rdtsc();
    while (now_ns() - t0 < 100000000UL) {}
    u64 ns = now_ns() - t0, cycles = rdtsc() - c0;
    cycles_per_ms = cycles * 1000000UL / ns;
    if (cycles_per_ms == 0) cycles_per_ms = 1;
}

int test_main(int argc, char **argv) {
    if (argc >= 3 && equal(argv[1], TARGET_FLAG)) run_as_target(argc, argv);
    self_path = argv[0];
    // The budget from RLIMIT_STACK as Linux computes it; SwiftKernel has
    // no prlimit64 yet (ENOSYS) and uses the default limit.
    u64 limit[2] = {STK_LIM, STK_LIM};
    if (sc6(SYS_prlimit64, 0, RLIMIT_STACK, 0, (long)limit, 0, 0) != 0) limit[0] = STK_LIM;
    u64 quarter = limit[0] / 4, most = STK_LIM / 4 * 3;
    budget = (long)(quarter < most ? quarter : most);
    if (budget < ARG_MAX) budget = ARG_MAX;

    shared = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, 0x01 /* MAP_SHARED */ | MAP_ANONYMOUS);
    if (mmap_failed((void *)shared)) { check("setup", 0, "mmap failed"); return 0; }
    long sibling = sc0(SYS_fork);
    if (sibling == 0) spin(0);
    calibrate();

    exec_cases_run();
    expect_status("deep-recursion-hits-the-guard", run_child(deep_recursion, 0), SIGSEGV, 0);
    expect_status("one-1MiB-frame-below-the-stack", run_child(huge_frame, 0), on_swiftkernel() ? SIGSEGV : 0, 0);
    check("sibling-ran-after-recursion", sibling_moved(shared[0]), "the spinning sibling made no progress");
    region_cases();

    u64 slowest_ms = slowest_cycles / cycles_per_ms;
    ct_puts("note: execve budget "); ct_put_dec(budget); ct_puts(" bytes; slowest refused execve ");
    ct_put_dec((long)slowest_ms); ct_puts(" ms (or a region syscall); sibling counted "); ct_put_dec((long)shared[0]); ct_puts("\n");
    check("no-syscall-holds-the-cpu-for-long", slowest_ms < SLOWEST_SYSCALL_MS, "a refused execve or a region syscall took too long");

    shared[1] = 1;
    int status = 0;
    sc6(SYS_wait4, sibling, (long)&status, 0, 0, 0, 0);
    expect_status("sibling-exits", status, 0, 0);
    return 0;
}
