// User/Tests/prot_none: mprotect(PROT_NONE) keeps the pages (issue [5]),
// as Linux does with _PAGE_PROTNONE: the data survives PROT_NONE and back;
// any access while PROT_NONE is SIGSEGV (the kernel kills with SEGV_ACCERR;
// without signal handlers only the signal is visible here); read(2) and
// write(2) with a PROT_NONE buffer fail with EFAULT; after fork both sides
// keep the data and their writes stay private; munmap of PROT_NONE pages
// frees their frames (more rounds than RAM holds, and the kernel's
// end-of-boot frame check).
#include "ctest.h"

enum { PAGES = 3, ROUNDS = 80, ROUND_BYTES = 4 << 20 };
enum { MAP_SHARED = 0x01 };   // not in ctest.h

static u64 *map_pages(u64 pages) {
    u64 *p = sys_mmap(0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    return mmap_failed(p) ? 0 : p;
}
static long sys_mprotect(void *p, u64 length, int prot) { return sc3(SYS_mprotect, (long)p, (long)length, prot); }
static long sys_munmap(void *p, u64 length) { return sc3(SYS_munmap, (long)p, (long)length, 0); }
static u64 word(u64 page, u64 index) { return 0x9e3779b97f4a7c15UL * (page + 1) ^ index; }

static void fill(u64 *p, u64 pages) {
    for (u64 page = 0; page < pages; page++)
        for (u64 i = 0; i < PAGE_SIZE / 8; i += 64) p[page * PAGE_SIZE / 8 + i] = word(page, i);
}
static int intact(const u64 *p, u64 pages) {
    for (u64 page = 0; page < pages; page++)
        for (u64 i = 0; i < PAGE_SIZE / 8; i += 64)
            if (p[page * PAGE_SIZE / 8 + i] != word(page, i)) return 0;
    return 1;
}

// Children: each touches its argument's address and must die of SIGSEGV.
static void load_from(u64 address) { sys_exit((int)(*(volatile u64 *)address & 0x7f)); }
static void store_to(u64 address) { *(volatile u64 *)address = 1; sys_exit(0); }

static void round_trips(void) {
    u64 *p = map_pages(PAGES);
    if (!p) { check("mmap", 0, "mmap failed"); return; }
    fill(p, PAGES);
    check_equal("mprotect-none", sys_mprotect(p, PAGES * PAGE_SIZE, PROT_NONE), 0);
    expect_status("load-while-none-is-sigsegv", run_child(load_from, (u64)p + PAGE_SIZE), SIGSEGV, 0);
    expect_status("store-while-none-is-sigsegv", run_child(store_to, (u64)p), SIGSEGV, 0);
    check_equal("mprotect-back-read-write", sys_mprotect(p, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
    check("data-survives-prot-none", intact(p, PAGES), "a word changed");
    p[0] = 7; p[0] = word(0, 0);
    pass("writable-again");

    // PROT_NONE to PROT_READ: readable, still not writable.
    sys_mprotect(p, PAGES * PAGE_SIZE, PROT_NONE);
    check_equal("mprotect-none-to-read", sys_mprotect(p, PAGES * PAGE_SIZE, PROT_READ), 0);
    check("data-survives-none-to-read", intact(p, PAGES), "a word changed");
    expect_status("read-only-after-none-refuses-stores", run_child(store_to, (u64)p), SIGSEGV, 0);

    // Part of a mapping: the middle page alone, twice over.
    sys_mprotect(p, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE);
    for (int i = 0; i < 2; i++) {
        sys_mprotect((char *)p + PAGE_SIZE, PAGE_SIZE, PROT_NONE);
        sys_mprotect((char *)p + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE);
    }
    check("middle-page-round-trips", intact(p, PAGES), "a word changed");

    // Replacing a PROT_NONE page with MAP_FIXED gives a fresh zero page.
    sys_mprotect((char *)p + PAGE_SIZE, PAGE_SIZE, PROT_NONE);
    u64 *q = sys_mmap((char *)p + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    check("map-fixed-over-none", q == p + PAGE_SIZE / 8 && q[0] == 0, "not a fresh page");
    check_equal("munmap", sys_munmap(p, PAGES * PAGE_SIZE), 0);
}

static void system_calls(const char *self) {
    u64 *p = map_pages(1);
    if (!p) { check("mmap", 0, "mmap failed"); return; }
    fill(p, 1);
    sys_mprotect(p, PAGE_SIZE, PROT_NONE);
    check_equal("write-from-none-is-efault", sc3(SYS_write, 1, (long)p, 16), -EFAULT);
    long fd = sc3(SYS_open, (long)self, 0, 0);
    if (fd < 0) {
        fail_begin("open-self"); ct_put_dec(fd); ct_puts("\n");
    } else {
        check_equal("read-into-none-is-efault", sc3(SYS_read, fd, (long)p, 16), -EFAULT);
        sc1(SYS_close, fd);
    }
    sys_mprotect(p, PAGE_SIZE, PROT_READ);
    check("efault-changed-nothing", intact(p, 1), "a word changed");
    sys_munmap(p, PAGE_SIZE);
}

// The child raises its PROT_NONE copy, finds the data, writes its own.
static void child_raises_and_writes(u64 address) {
    u64 *p = (u64 *)address;
    if (sys_mprotect(p, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE) != 0) sys_exit(2);
    if (!intact(p, PAGES)) sys_exit(3);
    p[0] = 0xc41d;
    if (p[0] != 0xc41d) sys_exit(4);
    sys_exit(0);
}

static void fork_while_none(void) {
    u64 *p = map_pages(PAGES);
    if (!p) { check("mmap", 0, "mmap failed"); return; }
    fill(p, PAGES);
    sys_mprotect(p, PAGES * PAGE_SIZE, PROT_NONE);
    expect_status("child-sees-the-data-after-none", run_child(child_raises_and_writes, (u64)p), 0, 0);
    expect_status("child-none-is-sigsegv", run_child(load_from, (u64)p), SIGSEGV, 0);
    check_equal("parent-mprotect-back", sys_mprotect(p, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
    check("parent-keeps-the-data", intact(p, PAGES), "the child's write showed, or a word changed");
    sys_munmap(p, PAGES * PAGE_SIZE);
}

// The other way: the parent raises and writes while a child still holds
// the PROT_NONE pages; the child, raising its own afterwards, finds the
// original data. A MAP_SHARED page orders the two.
static volatile u64 *go;

static void child_waits_then_checks(u64 address) {
    while (*go == 0) sc0(SYS_sched_yield);
    u64 *p = (u64 *)address;
    if (sys_mprotect(p, PAGES * PAGE_SIZE, PROT_READ) != 0) sys_exit(2);
    sys_exit(intact(p, PAGES) ? 0 : 3);
}

static void parent_writes_while_shared(void) {
    go = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    u64 *p = map_pages(PAGES);
    if (mmap_failed((void *)go) || !p) { check("mmap", 0, "mmap failed"); return; }
    fill(p, PAGES);
    sys_mprotect(p, PAGES * PAGE_SIZE, PROT_NONE);
    long pid = sc0(SYS_fork);
    if (pid == 0) child_waits_then_checks((u64)p);
    if (pid < 0) { fail_begin("fork"); ct_put_dec(pid); ct_puts("\n"); return; }
    sys_mprotect(p, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE);
    for (u64 page = 0; page < PAGES; page++) p[page * PAGE_SIZE / 8] = 0xd00d;
    *go = 1;
    int status = 0;
    if (sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0) != pid) status = -1;
    expect_status("child-keeps-the-data-the-parent-overwrote", status, 0, 0);
    check("parent-write-stays", p[0] == 0xd00d && p[PAGE_SIZE / 8 + 64] == word(1, 64), "a word changed");
    sys_munmap(p, PAGES * PAGE_SIZE);
    sys_munmap((void *)go, PAGE_SIZE);
}

// Round after round of touched PROT_NONE pages unmapped: more than RAM
// holds, so a leak runs the kernel out of frames.
static void unmap_frees(void) {
    for (int round = 0; round < ROUNDS; round++) {
        u64 *p = map_pages(ROUND_BYTES / PAGE_SIZE);
        if (!p) { check("unmap-of-none-frees", 0, "mmap failed"); return; }
        for (u64 i = 0; i < ROUND_BYTES / 8; i += PAGE_SIZE / 8) p[i] = i + 1;
        sys_mprotect(p, ROUND_BYTES, PROT_NONE);
        if (sys_munmap(p, ROUND_BYTES) != 0) { check("unmap-of-none-frees", 0, "munmap failed"); return; }
    }
    pass("unmap-of-none-frees");
}

int test_main(int argc, char **argv) {
    (void)argc;
    round_trips();
    system_calls(argv[0]);
    fork_while_none();
    parent_writes_while_shared();
    unmap_frees();
    return 0;
}
