// User/Programs/bench_fault/bench_fault.c: page-fault costs, per page.
//   anon_fault      first write to each of 4,096 fresh anonymous pages
//   read_fault      first read of each of 4,096 fresh anonymous pages
//   anon_map_write_unmap  mmap + write every page + munmap, per page: what a
//                   program pays in all, whether the kernel populates at
//                   mmap time (this kernel before the COW issue) or at fault
//   cow_fault       after fork, the child writes 1,024 populated pages
//   cow_reuse       after fork, the child exits at once; the parent then
//                   writes every page (the sole-owner path)
// The loop overhead subtracted is the same loop over pages already written.
// See User/Bench/bench.h for the method and the arguments.
#include "../../Bench/bench.h"

enum { FRESH_PAGES = 4096, COW_PAGES = 1024, QUICK_PAGES = 64 };

static void write_pages(char *base, u64 pages) {
    for (u64 i = 0; i < pages; i++) *(volatile char *)(base + i * PAGE_SIZE) = 1;
}
static long read_pages(char *base, u64 pages) {
    long sum = 0;
    for (u64 i = 0; i < pages; i++) sum += *(volatile char *)(base + i * PAGE_SIZE);
    return sum;
}
// The ticks write_pages takes on pages it has written before.
static i64 write_overhead(char *base, u64 pages) {
    write_pages(base, pages);
    u64 start = rdtsc();
    write_pages(base, pages);
    return (i64)(rdtsc() - start);
}

// Contract: anon_fault (write) or read_fault (read), per page, on a fresh
// private anonymous mapping for each sample. Returns 0, or 1 when mmap fails.
static int fresh_fault(const char *name, int write, u64 pages, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    for (int r = 0; r < repetitions; r++) {
        char *base = map_anonymous(pages * PAGE_SIZE, PROT_READ | PROT_WRITE);
        if (!base) { report_failed(name, "mmap"); return 1; }
        u64 start = rdtsc();
        if (write) write_pages(base, pages); else read_pages(base, pages);
        i64 elapsed = (i64)(rdtsc() - start);
        i64 overhead;
        if (write) {
            overhead = write_overhead(base, pages);
        } else {
            start = rdtsc();
            read_pages(base, pages);
            overhead = (i64)(rdtsc() - start);
        }
        samples[r] = (elapsed - overhead) / (i64)pages;
        unmap(base, pages * PAGE_SIZE);
    }
    report(name, median(samples, repetitions), "ticks/page");
    return 0;
}

// Contract: mmap + write every page + munmap, per page, loop overhead included
// (it is a few ticks a page). Returns 0, or 1 when mmap fails.
static int map_write_unmap(u64 pages, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    for (int r = 0; r < repetitions; r++) {
        u64 start = rdtsc();
        char *base = map_anonymous(pages * PAGE_SIZE, PROT_READ | PROT_WRITE);
        if (!base) { report_failed("anon_map_write_unmap", "mmap"); return 1; }
        write_pages(base, pages);
        unmap(base, pages * PAGE_SIZE);
        samples[r] = (i64)(rdtsc() - start) / (i64)pages;
    }
    report("anon_map_write_unmap", median(samples, repetitions), "ticks/page");
    return 0;
}

// Contract: cow_fault, per page. Only a child can write the pages it shares
// with its parent, and there is no shared memory to send a sample back in,
// so the samples travel down a chain of processes: each child takes one
// sample, then forks the next child and waits for it, and the last prints
// the median of all of them. Every process exits with its child's status.
// Runs in a child of its own so that the caller goes on afterwards.
static int cow_fault(u64 pages, int repetitions) {
    long chain = sys_fork();
    if (chain < 0) { report_failed("cow_fault", "fork"); return 1; }
    if (chain > 0) return wait_for(chain) == 0 ? 0 : 1;

    i64 samples[MAX_REPETITIONS];
    char *base = map_anonymous(pages * PAGE_SIZE, PROT_READ | PROT_WRITE);
    if (!base) { report_failed("cow_fault", "mmap"); exit_group(1); }
    i64 overhead = write_overhead(base, pages);
    for (int r = 0; r < repetitions; r++) {
        long child = sys_fork();
        if (child < 0) { report_failed("cow_fault", "fork"); exit_group(1); }
        if (child > 0) {
            int status = wait_for(child);
            exit_group(status == 0 ? 0 : 1);
        }
        u64 start = rdtsc();
        write_pages(base, pages);
        samples[r] = ((i64)(rdtsc() - start) - overhead) / (i64)pages;
    }
    report("cow_fault", median(samples, repetitions), "ticks/page");
    exit_group(0);
}

// Contract: cow_reuse, per page: fork, the child exits, the parent waits and
// writes every page it shared. Returns 0, or 1 when mmap or fork fails.
static int cow_reuse(u64 pages, int repetitions) {
    i64 samples[MAX_REPETITIONS];
    char *base = map_anonymous(pages * PAGE_SIZE, PROT_READ | PROT_WRITE);
    if (!base) { report_failed("cow_reuse", "mmap"); return 1; }
    i64 overhead = write_overhead(base, pages);
    for (int r = 0; r < repetitions; r++) {
        long child = sys_fork();
        if (child < 0) { report_failed("cow_reuse", "fork"); return 1; }
        if (child == 0) exit_group(0);
        wait_for(child);
        u64 start = rdtsc();
        write_pages(base, pages);
        samples[r] = ((i64)(rdtsc() - start) - overhead) / (i64)pages;
    }
    unmap(base, pages * PAGE_SIZE);
    report("cow_reuse", median(samples, repetitions), "ticks/page");
    return 0;
}

static int bench_main(struct options *options) {
    int repetitions = options->repetitions;
    u64 fresh = options->quick ? QUICK_PAGES : FRESH_PAGES;
    u64 cow = options->quick ? QUICK_PAGES : COW_PAGES;
    int failures = 0;
    failures += fresh_fault("anon_fault", 1, fresh, repetitions);
    failures += fresh_fault("read_fault", 0, fresh, repetitions);
    failures += map_write_unmap(fresh, repetitions);
    failures += cow_fault(cow, repetitions);
    failures += cow_reuse(cow, repetitions);
    return failures ? 1 : 0;
}
