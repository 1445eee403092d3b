// User/Programs/bench_mmap/bench_mmap.c: mapping costs.
//   mmap_munmap_4m        mmap + munmap of 4 MiB never touched, per op
//   mmap_touch64_munmap   mmap 64 pages, write each, munmap, per op
//   mprotect_split        256 populated pages: every other page made
//                         read-only, then back, per mprotect call
//   mremap_64m            moving a populated 64 MiB mapping to another
//                         address (MREMAP_MAYMOVE|MREMAP_FIXED), per move;
//                         "skipped ENOSYS" on a kernel without mremap
// See User/Bench/bench.h for the method and the arguments; "quick" makes
// mremap's mapping 1 MiB.
#include "../../Bench/bench.h"

enum { FOUR_MIB = 4 * MIB, TOUCH_PAGES = 64, SPLIT_PAGES = 256, MREMAP_MIB = 64 };

// Contract: prints mmap_munmap_4m, `batch` mmap+munmap per sample. Returns
// 0, or 1 when mmap fails.
static int mmap_munmap(int batch, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    i64 overhead = loop_overhead((u64)batch, repetitions);
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        for (int i = 0; i < batch; i++) {
            char *base = map_anonymous(FOUR_MIB, PROT_READ | PROT_WRITE);
            if (!base) { report_failed("mmap_munmap_4m", "mmap"); return 1; }
            unmap(base, FOUR_MIB);
        }
        samples[r] = ((i64)(rdtsc() - start) - overhead) / batch;
    }
    report("mmap_munmap_4m", median(samples, repetitions), "ticks/op");
    return 0;
}

// Contract: prints mmap_touch64_munmap, `batch` operations per sample.
// Returns 0, or 1 when mmap fails.
static int mmap_touch_munmap(int batch, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    i64 overhead = loop_overhead((u64)batch, repetitions);
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        for (int i = 0; i < batch; i++) {
            char *base = map_anonymous(TOUCH_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE);
            if (!base) { report_failed("mmap_touch64_munmap", "mmap"); return 1; }
            for (int page = 0; page < TOUCH_PAGES; page++) *(volatile char *)(base + page * PAGE_SIZE) = 1;
            unmap(base, TOUCH_PAGES * PAGE_SIZE);
        }
        samples[r] = ((i64)(rdtsc() - start) - overhead) / batch;
    }
    report("mmap_touch64_munmap", median(samples, repetitions), "ticks/op");
    return 0;
}

// Contract: prints mprotect_split per call: each sample makes the even pages
// of a populated 256-page mapping read-only (256 regions), then writable
// again (one region). Returns 0, or 1 when a call fails.
static int mprotect_split(int repetitions) {
    enum { CALLS = SPLIT_PAGES };  // SPLIT_PAGES / 2 each way
    i64 samples[MAX_REPETITIONS];
    char *base = map_anonymous(SPLIT_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE);
    if (!base) { report_failed("mprotect_split", "mmap"); return 1; }
    for (int page = 0; page < SPLIT_PAGES; page++) base[page * PAGE_SIZE] = 1;
    i64 overhead = loop_overhead(CALLS, repetitions);
    for (int r = 0; r < repetitions; r++) {
        long failed = 0;
        u64 start = rdtsc();
        for (int page = 0; page < SPLIT_PAGES; page += 2)
            failed |= protect(base + page * PAGE_SIZE, PAGE_SIZE, PROT_READ);
        for (int page = 0; page < SPLIT_PAGES; page += 2)
            failed |= protect(base + page * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE);
        samples[r] = ((i64)(rdtsc() - start) - overhead) / CALLS;
        if (failed) { report_failed("mprotect_split", "mprotect"); return 1; }
    }
    unmap(base, SPLIT_PAGES * PAGE_SIZE);
    report("mprotect_split", median(samples, repetitions), "ticks/call");
    return 0;
}

static long move_mapping(char *from, char *to, u64 length) {
    return syscall6(SYS_MREMAP, (long)from, (long)length, (long)length, MREMAP_MAYMOVE | MREMAP_FIXED, (long)to, 0);
}

// Contract: prints mremap_64m per move, or "skipped ENOSYS". A PROT_NONE
// reservation of twice the size holds both places; the populated mapping
// moves from one half to the other and back. Returns 0, or 1 on a failure.
static int mremap_move(u64 megabytes, int repetitions) {
    u64 length = megabytes * MIB;
    char *reservation = map_anonymous(2 * length, PROT_NONE);
    if (!reservation) { report_failed("mremap_64m", "mmap"); return 1; }
    char *halves[2] = {reservation, reservation + length};
    long mapped = syscall6(SYS_MMAP, (long)halves[0], (long)length, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (mapped != (long)halves[0]) { report_failed("mremap_64m", "mmap fixed"); return 1; }
    for (u64 at = 0; at < length; at += PAGE_SIZE) halves[0][at] = 1;
    long first = move_mapping(halves[0], halves[1], length);
    if (first == -ENOSYS) {
        report_skipped("mremap_64m", "ENOSYS");
        unmap(reservation, 2 * length);
        return 0;
    }
    if (first != (long)halves[1]) { report_failed("mremap_64m", "mremap"); return 1; }
    int at = 1;
    i64 samples[MAX_REPETITIONS];
    i64 overhead = loop_overhead(1, repetitions);
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        long moved = move_mapping(halves[at], halves[1 - at], length);
        samples[r] = (i64)(rdtsc() - start) - overhead;
        if (moved != (long)halves[1 - at]) { report_failed("mremap_64m", "mremap"); return 1; }
        at = 1 - at;
    }
    if (halves[at][length - PAGE_SIZE] != 1) { report_failed("mremap_64m", "contents lost"); return 1; }
    unmap(reservation, 2 * length);
    report("mremap_64m", median(samples, repetitions), "ticks/op");
    return 0;
}

static int bench_main(struct options *options) {
    int repetitions = options->repetitions;
    int failures = 0;
    failures += mmap_munmap(8, repetitions);
    failures += mmap_touch_munmap(4, repetitions);
    failures += mprotect_split(repetitions);
    failures += mremap_move(options->quick ? 1 : MREMAP_MIB, repetitions);
    return failures ? 1 : 0;
}
