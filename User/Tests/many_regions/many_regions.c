// User/Tests/many_regions: tens of thousands of regions, the map-count limit
// and one mprotect across all of them (issue [5], "an index that scales").
//
// 1. One PROT_READ mapping of about max_map_count pages; mprotect of every
//    other page to PROT_READ|PROT_WRITE splits it into alternating,
//    non-mergeable regions: 60,000 of them must be fine.
// 2. Going on, an mprotect fails with ENOMEM once the next split would pass
//    the limit (Linux: split_vma refuses at map_count >= max_map_count;
//    SwiftKernel: RegionList.maxCount, 65530). The limit is
//    /proc/sys/vm/max_map_count when that file exists (Linux), else 65530.
//    The regions this test made must then be within `SLACK` of the limit:
//    the others (text, data, stack, vdso, ...) count too. The page whose
//    mprotect failed kept its protection (a write to it is SIGSEGV).
// 3. mmap of single pages (alternating protections, so nothing merges)
//    fails with ENOMEM after at most a few more (Linux's do_mmap checks
//    `map_count > max`, so it may let one or two through; SwiftKernel none).
// 4. One mprotect back to PROT_READ across all the alternating regions
//    merges them into one, and must finish promptly: under
//    NATIVE_LIMIT_NS on Linux, TCG_LIMIT_NS on SwiftKernel (QEMU TCG).
// 5. munmap of everything; the process still maps, writes, reads and forks.
// Nothing is ever touched in the big mapping, so it costs no frames.
#include "ctest.h"

enum {
    ENOMEM = 12, O_RDONLY = 0, CLOCK_MONOTONIC = 1,
    DEFAULT_MAX_MAP_COUNT = 65530,   // Linux's default (DEFAULT_MAX_MAP_COUNT), SwiftKernel's RegionList.maxCount
    WANTED_REGIONS = 60000,
    SLACK = 64,                      // regions not made here: text, data, bss, heap, stack, vdso, vvar
    LIMIT_TESTED_UP_TO = 70000,      // a larger sysctl (some distributions) is not chased
    MAX_EXTRA_MMAPS = 4,
};
static const long NATIVE_LIMIT_NS = 2000000000L;   // 2 s
static const long TCG_LIMIT_NS = 60000000000L;     // 60 s: TCG is slow, and vmcheck may be on

struct timespec { long seconds, nanoseconds; };

static long now_ns(void) {
    struct timespec t;
    sc3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&t, 0);
    return t.seconds * 1000000000L + t.nanoseconds;
}

/// /proc/sys/vm/max_map_count if it can be read, else the default.
static long max_map_count(void) {
    long fd = sc3(SYS_open, (long)"/proc/sys/vm/max_map_count", O_RDONLY, 0);
    if (fd < 0) return DEFAULT_MAX_MAP_COUNT;
    char text[32];
    long got = sc3(SYS_read, fd, (long)text, sizeof text - 1);
    sc1(SYS_close, fd);
    long value = 0;
    for (long i = 0; i < got && text[i] >= '0' && text[i] <= '9'; i++) value = value * 10 + (text[i] - '0');
    return value > 0 ? value : DEFAULT_MAX_MAP_COUNT;
}

static long protect(char *address, u64 length, int prot) {
    return sc3(SYS_mprotect, (long)address, (long)length, prot);
}

static char *failed_page;

static void write_failed_page(u64 unused) {
    (void)unused;
    *(volatile char *)failed_page = 1;
    sys_exit(0);
}

static void exit_seven(u64 unused) { (void)unused; sys_exit(7); }

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long limit = max_map_count();
    int chase_limit = limit <= LIMIT_TESTED_UP_TO;
    ct_puts("note: max_map_count "); ct_put_dec(limit); ct_puts("\n");

    // 1. Alternating regions, made by splitting one mapping.
    u64 pages = 2 * (u64)(chase_limit ? limit / 2 : WANTED_REGIONS / 2) + 512;
    char *big = sys_mmap(0, pages * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    if (mmap_failed(big)) {
        check("big-mapping", 0, "mmap of the big PROT_READ mapping failed");
        return 0;
    }
    long made = 1;         // regions of the big mapping
    u64 page = 1;          // the next page to make writable
    long error = 0;
    while (made < WANTED_REGIONS) {
        error = protect(big + page * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE);
        if (error) break;
        made += 2;
        page += 2;
    }
    check("sixty-thousand-alternating-regions", made >= WANTED_REGIONS, "an mprotect split failed early");
    if (made < WANTED_REGIONS) {
        ct_puts("note: failed at "); ct_put_dec(made); ct_puts(" regions, error "); ct_put_dec(error); ct_puts("\n");
        return 0;
    }

    // 2. On to the limit.
    if (chase_limit) {
        while (page + 1 < pages) {
            error = protect(big + page * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE);
            if (error) break;
            made += 2;
            page += 2;
        }
        check_equal("split-past-the-limit-is-enomem", error, -ENOMEM);
        ct_puts("note: regions made here at the limit: "); ct_put_dec(made); ct_puts("\n");
        check("limit-reached-near-max-map-count", made <= limit && made + 2 + SLACK >= limit,
              "the refusal did not come near max_map_count");
        failed_page = big + page * PAGE_SIZE;
        expect_status("refused-page-kept-its-protection", run_child(write_failed_page, 0), SIGSEGV, 0);

        // 3. New mappings are refused too, after at most a few.
        char *extra[MAX_EXTRA_MMAPS + 1];
        int extras = 0;
        char *last = 0;
        while (extras <= MAX_EXTRA_MMAPS) {
            last = sys_mmap(0, PAGE_SIZE, extras % 2 ? PROT_NONE : PROT_READ | PROT_EXEC,
                            MAP_PRIVATE | MAP_ANONYMOUS);
            if (mmap_failed(last)) break;
            extra[extras++] = last;
        }
        check("mmap-past-the-limit-is-enomem", mmap_failed(last) && (long)last == -ENOMEM,
              "mmap did not fail with ENOMEM at the limit");
        ct_puts("note: mmaps accepted at the limit: "); ct_put_dec(extras); ct_puts("\n");
        for (int i = 0; i < extras; i++) sc3(SYS_munmap, (long)extra[i], PAGE_SIZE, 0);
    } else {
        ct_puts("note: max_map_count is above "); ct_put_dec(LIMIT_TESTED_UP_TO); ct_puts(": limit not chased\n");
        pass("limit-not-chased");
    }

    // 4. One mprotect across every alternating region.
    long regions_crossed = made;
    long start = now_ns();
    error = protect(big, pages * PAGE_SIZE, PROT_READ);
    long elapsed = now_ns() - start;
    check_equal("one-mprotect-across-all-regions", error, 0);
    ct_puts("note: mprotect across "); ct_put_dec(regions_crossed); ct_puts(" regions took ");
    ct_put_dec(elapsed / 1000); ct_puts(" us\n");
    check("one-mprotect-is-prompt", elapsed < (on_swiftkernel() ? TCG_LIMIT_NS : NATIVE_LIMIT_NS),
          "mprotect across the regions took too long");
    // They merged: a split of the whole is possible again at once.
    check_equal("merged-regions-split-again", protect(big + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);

    // 5. Everything goes; the process still works.
    check_equal("munmap-everything", sc3(SYS_munmap, (long)big, (long)(pages * PAGE_SIZE), 0), 0);
    char *fresh = sys_mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    int works = !mmap_failed(fresh);
    if (works) {
        for (int i = 0; i < 4; i++) fresh[i * PAGE_SIZE] = (char)(i + 1);
        for (int i = 0; i < 4; i++) works = works && fresh[i * PAGE_SIZE] == (char)(i + 1);
        works = works && sc3(SYS_munmap, (long)fresh, 4 * PAGE_SIZE, 0) == 0;
    }
    check("maps-writes-and-reads-afterwards", works, "a fresh mapping did not work");
    expect_status("forks-afterwards", run_child(exit_seven, 0), 0, 7);
    return 0;
}
