// User/Bench/bench.h: what every benchmark program (User/Programs/bench_*)
// shares: raw Linux x86-64 syscalls, rdtsc, a median, the BENCH line, and
// the process entry. No libc: the same static binary runs on this kernel and
// on Linux (`make bench` boots both, bench/README.md).
//
// Method (issue [8]): each figure is the median over `repetitions` samples
// of (rdtsc delta of a batch - rdtsc delta of the same loop with nothing in
// it) / operations in the batch. Under QEMU `-icount shift=0` one rdtsc tick
// is one guest instruction, so the figures repeat exactly.
//
// Each program: `bench_X [repetitions [quick]]`. "quick" shrinks the sizes
// (64 MiB -> 1 MiB, at most 1,000 regions) for the smoke run in `make test`;
// the figures are then not comparable with a full run's.
//
// Included once per program (one translation unit each): the functions are
// static (and marked unused: each program takes what it needs), except
// memset/memcpy, which gcc may call on its own.
#ifndef BENCH_H
#define BENCH_H

#pragma GCC diagnostic ignored "-Wunused-function"

typedef unsigned long u64;
typedef long i64;

enum {
    SYS_READ = 0, SYS_WRITE = 1, SYS_MMAP = 9, SYS_MPROTECT = 10, SYS_MUNMAP = 11,
    SYS_SCHED_YIELD = 24, SYS_MREMAP = 25, SYS_GETPID = 39, SYS_FORK = 57, SYS_EXECVE = 59,
    SYS_WAIT4 = 61, SYS_REBOOT = 169, SYS_EXIT_GROUP = 231,
};
enum { PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2 };
enum { MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20 };
enum { MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2 };
enum { ENOSYS = 38 };
enum { PAGE_SIZE = 4096, MIB = 1 << 20 };
enum { STDOUT = 1 };
// At most this many samples per figure (the repetition argument is clamped).
enum { MAX_REPETITIONS = 64, DEFAULT_REPETITIONS = 9 };

static long syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
    long result;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return result;
}
static long syscall3(long number, long a1, long a2, long a3) { return syscall6(number, a1, a2, a3, 0, 0, 0); }

static __attribute__((noreturn)) void exit_group(int status) {
    for (;;) syscall3(SYS_EXIT_GROUP, status, 0, 0);
}
static long sys_fork(void) { return syscall3(SYS_FORK, 0, 0, 0); }
// wait4(pid, &status, 0, NULL); returns the status word, or -1 on error.
static int wait_for(long pid) {
    int status = 0;
    long result = syscall6(SYS_WAIT4, pid, (long)&status, 0, 0, 0, 0);
    return result == pid ? status : -1;
}
// A private anonymous mapping of `length` bytes, or 0 on failure.
static char *map_anonymous(u64 length, int protection) {
    long result = syscall6(SYS_MMAP, 0, (long)length, protection, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return result < 0 && result > -4096 ? 0 : (char *)result;
}
static long unmap(void *address, u64 length) { return syscall3(SYS_MUNMAP, (long)address, (long)length, 0); }
static long protect(void *address, u64 length, int protection) {
    return syscall3(SYS_MPROTECT, (long)address, (long)length, protection);
}

void *memset(void *destination, int byte, unsigned long count) {
    unsigned char *bytes = destination;
    while (count--) *bytes++ = (unsigned char)byte;
    return destination;
}
void *memcpy(void *destination, const void *source, unsigned long count) {
    unsigned char *to = destination;
    const unsigned char *from = source;
    while (count--) *to++ = *from++;
    return destination;
}

// --- Output -----------------------------------------------------------------
static u64 string_length(const char *text) {
    u64 length = 0;
    while (text[length]) length++;
    return length;
}
static void put(const char *text) { syscall3(SYS_WRITE, STDOUT, (long)text, (long)string_length(text)); }
// The decimal text of value in buffer (at least 21 bytes); returns buffer.
static char *decimal(i64 value, char *buffer) {
    char digits[21];
    int count = 0, at = 0;
    u64 magnitude = value < 0 ? (u64)0 - (u64)value : (u64)value;
    do { digits[count++] = (char)('0' + magnitude % 10); magnitude /= 10; } while (magnitude);
    if (value < 0) buffer[at++] = '-';
    while (count) buffer[at++] = digits[--count];
    buffer[at] = 0;
    return buffer;
}
// One line, written with a single write(2) so lines from two processes never interleave.
static void put_line(const char *a, const char *b, const char *c, const char *d) {
    char line[256];
    u64 at = 0;
    const char *parts[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        for (const char *p = parts[i]; p && *p && at < sizeof line - 2; p++) line[at++] = *p;
    }
    line[at++] = '\n';
    syscall3(SYS_WRITE, STDOUT, (long)line, (long)at);
}
// "BENCH <name> <value> <unit>"
static void report(const char *name, i64 value, const char *unit) {
    char number[24], head[96];
    u64 at = 0;
    for (const char *p = "BENCH "; *p; p++) head[at++] = *p;
    for (const char *p = name; *p && at < sizeof head - 2; p++) head[at++] = *p;
    head[at++] = ' ';
    head[at] = 0;
    char tail[40];
    at = 0;
    tail[at++] = ' ';
    for (const char *p = unit; *p && at < sizeof tail - 1; p++) tail[at++] = *p;
    tail[at] = 0;
    put_line(head, decimal(value, number), tail, 0);
}
// "BENCH <name> skipped <why>": the kernel lacks what the benchmark needs.
static void report_skipped(const char *name, const char *why) { put_line("BENCH ", name, " skipped ", why); }
// "BENCH <name> failed <why>": a syscall failed where it must not.
static void report_failed(const char *name, const char *why) { put_line("BENCH ", name, " failed ", why); }

// --- Timing -----------------------------------------------------------------
static inline u64 rdtsc(void) {
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((u64)hi << 32) | lo;
}
// Keeps the compiler from folding or removing a loop body.
#define BENCH_BARRIER() __asm__ volatile("" ::: "memory")

// The median of count samples (sorts them in place; count >= 1).
static i64 median(i64 *samples, int count) {
    for (int i = 1; i < count; i++) {
        i64 value = samples[i];
        int j = i;
        for (; j > 0 && samples[j - 1] > value; j--) samples[j] = samples[j - 1];
        samples[j] = value;
    }
    return count % 2 ? samples[count / 2] : (samples[count / 2 - 1] + samples[count / 2]) / 2;
}

// The cost of timing an empty loop of `iterations` (rdtsc pair included):
// the median of `repetitions` runs, in ticks for the whole loop.
static i64 loop_overhead(u64 iterations, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        for (u64 i = 0; i < iterations; i++) BENCH_BARRIER();
        samples[r] = (i64)(rdtsc() - start);
    }
    return median(samples, repetitions);
}

// --- Options ----------------------------------------------------------------
struct options {
    int repetitions;  // samples per figure, 1..MAX_REPETITIONS
    int quick;        // 1: small sizes, for the smoke run
    char **argv;
    char **envp;
};

static int string_equal(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}
static long parse_decimal(const char *text) {
    long value = 0;
    if (!*text) return -1;
    for (; *text; text++) {
        if (*text < '0' || *text > '9') return -1;
        value = value * 10 + (*text - '0');
    }
    return value;
}

// Each program's own body: runs its benchmarks, returns the exit status.
static int bench_main(struct options *options);

// The initial stack: argc, argv[0..argc-1], NULL, envp..., NULL.
__attribute__((used, noreturn)) static void bench_entry(long *stack) {
    long argc = stack[0];
    struct options options = {DEFAULT_REPETITIONS, 0, (char **)(stack + 1), (char **)(stack + 2 + argc)};
    if (argc > 1) {
        long repetitions = parse_decimal(options.argv[1]);
        if (repetitions < 1) {
            put("usage: bench_X [repetitions [quick]]\n");
            exit_group(2);
        }
        options.repetitions = repetitions > MAX_REPETITIONS ? MAX_REPETITIONS : (int)repetitions;
    }
    if (argc > 2) options.quick = string_equal(options.argv[2], "quick");
    exit_group(bench_main(&options));
}

// Process entry: the kernel enters with RSP at argc, 16-byte aligned.
__asm__(".globl _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call bench_entry\n"
        "    ud2\n");

#endif
