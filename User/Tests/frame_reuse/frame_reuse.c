// User/Tests/frame_reuse: a frame freed by one process is zeroed before
// another can see it (issue [6], security baseline). A child fills
// PATTERN_BYTES of anonymous memory with a pattern and exits; the parent
// then maps twice as much, touches every page and finds nothing but zeros.
// A second round does the same through brk.
#include "ctest.h"

enum { PATTERN_BYTES = 4 << 20, READ_BYTES = 8 << 20 };
static const u64 PATTERN = 0x5ec12e7f5ec12e7fUL;

static void fill_and_exit(u64 use_brk) {
    u64 *p;
    if (use_brk) {
        u64 start = (u64)sc1(SYS_brk, 0);
        if ((u64)sc1(SYS_brk, (long)(start + PATTERN_BYTES)) < start + PATTERN_BYTES) sys_exit(3);
        p = (u64 *)start;
    } else {
        p = sys_mmap(0, PATTERN_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        if (mmap_failed(p)) sys_exit(3);
    }
    for (u64 i = 0; i < PATTERN_BYTES / 8; i++) p[i] = PATTERN ^ i;
    sys_exit(0);
}

// Counts the non-zero words in READ_BYTES of fresh memory.
static u64 nonzero_words(int use_brk) {
    u64 *p;
    if (use_brk) {
        u64 start = (u64)sc1(SYS_brk, 0);
        if ((u64)sc1(SYS_brk, (long)(start + READ_BYTES)) < start + READ_BYTES) return (u64)-1;
        p = (u64 *)start;
    } else {
        p = sys_mmap(0, READ_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        if (mmap_failed(p)) return (u64)-1;
    }
    u64 found = 0;
    for (u64 i = 0; i < READ_BYTES / 8; i++) found += p[i] != 0;
    if (!use_brk) sc3(SYS_munmap, (long)p, READ_BYTES, 0);
    return found;
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    expect_status("child-fills-mmap-memory", run_child(fill_and_exit, 0), 0, 0);
    check_equal("fresh-mmap-memory-is-zero", (long)nonzero_words(0), 0);
    expect_status("child-fills-brk-memory", run_child(fill_and_exit, 1), 0, 0);
    check_equal("fresh-brk-memory-is-zero", (long)nonzero_words(1), 0);
    return 0;
}
