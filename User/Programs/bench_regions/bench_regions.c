// User/Programs/bench_regions/bench_regions.c: the cost of mmap + munmap of
// one page (never touched) with 10, 1,000, 10,000 and 60,000 other regions
// in the address space: regions_<count>, per op. A flat curve means the
// region lookup does not grow with the count.
//
// The regions: one PROT_NONE reservation of 2 x count pages (no frames on
// either kernel), then every second page unmapped, from the lowest address
// up, so that each split cuts the last, biggest piece: building stays cheap
// on an address-sorted array as well as on a tree. Linux's vm.max_map_count
// (65,530) bounds the largest count. See User/Bench/bench.h for the method
// and the arguments; "quick" stops at 1,000 regions.
#include "../../Bench/bench.h"

enum { OPS_PER_SAMPLE = 16, QUICK_MAX_REGIONS = 1000 };

// Contract: prints regions_<count>. Returns 0, or 1 when a call fails. The
// address space is as before afterwards.
static int with_regions(long count, int repetitions) {
    char name[32], number[24];
    u64 at = 0;
    for (const char *p = "regions_"; *p; p++) name[at++] = *p;
    for (const char *p = decimal(count, number); *p; p++) name[at++] = *p;
    name[at] = 0;

    u64 length = 2 * (u64)count * PAGE_SIZE;
    char *reservation = map_anonymous(length, PROT_NONE);
    if (!reservation) { report_failed(name, "mmap reservation"); return 1; }
    for (long page = 1; page < 2 * count; page += 2) {
        if (unmap(reservation + page * PAGE_SIZE, PAGE_SIZE)) { report_failed(name, "munmap split"); return 1; }
    }
    i64 samples[MAX_REPETITIONS];
    i64 overhead = loop_overhead(OPS_PER_SAMPLE, repetitions);
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        for (int i = 0; i < OPS_PER_SAMPLE; i++) {
            char *page = map_anonymous(PAGE_SIZE, PROT_READ | PROT_WRITE);
            if (!page) { report_failed(name, "mmap"); return 1; }
            unmap(page, PAGE_SIZE);
        }
        samples[r] = ((i64)(rdtsc() - start) - overhead) / OPS_PER_SAMPLE;
    }
    unmap(reservation, length);
    report(name, median(samples, repetitions), "ticks/op");
    return 0;
}

static int bench_main(struct options *options) {
    static const long counts[] = {10, 1000, 10000, 60000};
    int failures = 0;
    for (unsigned i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        if (options->quick && counts[i] > QUICK_MAX_REGIONS) break;
        failures += with_regions(counts[i], options->repetitions);
    }
    return failures ? 1 : 0;
}
