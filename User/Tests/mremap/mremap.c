// User/Tests/mremap: mremap(25) in all its forms, as Linux does them (the
// program passes natively on Linux, which is the oracle): shrink, grow in
// place, move with MREMAP_MAYMOVE, move to a chosen address with
// MREMAP_FIXED (replacing what was there), MREMAP_DONTUNMAP, a second
// mapping of shared memory with old_size 0, data kept by every move,
// copy-on-write across fork after a move, and the errnos. Addresses are
// only compared where Linux defines them (in place: the same address;
// FIXED: new_address; a move: another address).
#include "ctest.h"

enum { MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2, MREMAP_DONTUNMAP = 4, SYS_mremap = 25 };
enum { MAP_SHARED = 0x01 };
enum { ENOMEM = 12, BIG_PAGES = 2048 };  // BIG_PAGES: an 8 MiB mapping

static long sys_mremap(void *old, u64 old_size, u64 new_size, long flags, void *new_address) {
    return sc6(SYS_mremap, (long)old, (long)old_size, (long)new_size, flags, (long)new_address, 0);
}
static char *map(u64 pages, int prot, int flags) {
    char *p = sys_mmap(0, pages * PAGE_SIZE, prot, flags | MAP_ANONYMOUS);
    return mmap_failed(p) ? 0 : p;
}
static char *map_private(u64 pages) { return map(pages, PROT_READ | PROT_WRITE, MAP_PRIVATE); }
static void unmap(void *p, u64 pages) { sc3(SYS_munmap, (long)p, (long)(pages * PAGE_SIZE), 0); }
static void protect(void *p, u64 pages, int prot) { sc3(SYS_mprotect, (long)p, (long)(pages * PAGE_SIZE), prot); }

// Writes `tag + i` at the start of each of `pages` pages; checks them back.
static void fill(char *p, u64 pages, u64 tag) {
    for (u64 i = 0; i < pages; i++) *(u64 *)(p + i * PAGE_SIZE) = tag + i;
}
static int holds(char *p, u64 pages, u64 tag) {
    for (u64 i = 0; i < pages; i++) if (*(u64 *)(p + i * PAGE_SIZE) != tag + i) return 0;
    return 1;
}
static int zero(char *p, u64 pages) {
    for (u64 i = 0; i < pages; i++) if (*(u64 *)(p + i * PAGE_SIZE) != 0) return 0;
    return 1;
}

static void touch(u64 address) { (void)*(volatile char *)address; sys_exit(0); }
// Expects a read of `address` in a child to die of SIGSEGV (nothing mapped there).
static void expect_unmapped(const char *name, void *address) {
    expect_status(name, run_child(touch, (u64)address), SIGSEGV, 0);
}

static void shrink(void) {
    char *p = map_private(4);
    fill(p, 4, 0x100);
    check_equal("shrink returns the address", sys_mremap(p, 4 * PAGE_SIZE, 2 * PAGE_SIZE, 0, 0), (long)p);
    check("shrink keeps the head", holds(p, 2, 0x100), "contents changed");
    expect_unmapped("shrink unmaps the tail", p + 2 * PAGE_SIZE);
    check_equal("same size is a no-op", sys_mremap(p, 2 * PAGE_SIZE, 2 * PAGE_SIZE, 0, 0), (long)p);
    unmap(p, 2);
}

static void grow_in_place(void) {
    char *p = map_private(8);
    unmap(p + 4 * PAGE_SIZE, 4);
    fill(p, 4, 0x200);
    check_equal("grow in place without MAYMOVE", sys_mremap(p, 4 * PAGE_SIZE, 8 * PAGE_SIZE, 0, 0), (long)p);
    check("grown in place keeps the data", holds(p, 4, 0x200), "contents changed");
    check("grown pages read as zero", zero(p + 4 * PAGE_SIZE, 4), "not zero");
    fill(p + 4 * PAGE_SIZE, 4, 0x204);
    check("grown pages are writable", holds(p, 8, 0x200), "lost a write");
    unmap(p, 8);
}

static void grow_by_moving(void) {
    char *p = map_private(3);
    protect(p + 2 * PAGE_SIZE, 1, PROT_READ);  // a second mapping right after the first two pages
    fill(p, 2, 0x300);
    check_equal("blocked growth without MAYMOVE is ENOMEM", sys_mremap(p, 2 * PAGE_SIZE, 4 * PAGE_SIZE, 0, 0),
                -ENOMEM);
    check_equal("an inner range cannot grow in place", sys_mremap(p, PAGE_SIZE, 2 * PAGE_SIZE, 0, 0), -ENOMEM);
    long moved = sys_mremap(p, 2 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE, 0);
    check("MAYMOVE moves it", moved > 0 && moved != (long)p, "not moved");
    if (moved <= 0) return;
    char *q = (char *)moved;
    check("moved pages keep their data", holds(q, 2, 0x300), "contents lost");
    check("the added pages read as zero", zero(q + 2 * PAGE_SIZE, 2), "not zero");
    expect_unmapped("the old place is unmapped", p);
    check("the neighbour stays", *(volatile u64 *)(p + 2 * PAGE_SIZE) == 0, "neighbour lost");
    unmap(q, 4);
    unmap(p + 2 * PAGE_SIZE, 1);
}

static void fixed(void) {
    char *source = map_private(4), *target = map_private(6);
    fill(source, 4, 0x400);
    fill(target, 6, 0x900);
    char *to = target + PAGE_SIZE;
    check_equal("FIXED returns new_address",
                sys_mremap(source, 4 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to), (long)to);
    check("FIXED moves the data over what was there", holds(to, 4, 0x400), "contents wrong");
    check("FIXED leaves the target's neighbours", holds(target, 1, 0x900) && holds(target + 5 * PAGE_SIZE, 1, 0x905),
          "neighbours changed");
    expect_unmapped("FIXED unmaps the old range", source);
    // FIXED and a size change: grow and shrink on the way.
    check_equal("FIXED growing", sys_mremap(to, 2 * PAGE_SIZE, 3 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, source),
                (long)source);
    check("FIXED growing keeps the data, adds zeros", holds(source, 2, 0x400) && zero(source + 2 * PAGE_SIZE, 1),
          "contents wrong");
    check_equal("FIXED shrinking", sys_mremap(source, 3 * PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to),
                (long)to);
    check("FIXED shrinking keeps the head", holds(to, 1, 0x400), "contents wrong");
    expect_unmapped("FIXED shrinking unmaps the tail", source + PAGE_SIZE);
    unmap(target, 6);
}

static void big_move(void) {
    char *p = map_private(BIG_PAGES), *room = map_private(BIG_PAGES);
    for (u64 i = 0; i < BIG_PAGES * PAGE_SIZE / 8; i += 97) ((u64 *)p)[i] = i * 31 + 7;
    long moved = sys_mremap(p, BIG_PAGES * PAGE_SIZE, BIG_PAGES * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, room);
    check_equal("8 MiB moved", moved, (long)room);
    int same = 1;
    for (u64 i = 0; i < BIG_PAGES * PAGE_SIZE / 8; i++) {
        u64 want = i % 97 == 0 ? i * 31 + 7 : 0;
        if (((u64 *)room)[i] != want) { same = 0; break; }
    }
    check("8 MiB of data kept", same, "contents differ");
    unmap(room, BIG_PAGES);
}

static void dont_unmap(void) {
    char *p = map_private(2);
    fill(p, 2, 0x500);
    long moved = sys_mremap(p, 2 * PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
    check("DONTUNMAP moves", moved > 0 && moved != (long)p, "not moved");
    if (moved <= 0) return;
    check("DONTUNMAP: the pages moved", holds((char *)moved, 2, 0x500), "contents lost");
    check("DONTUNMAP: the old range is mapped and empty", zero(p, 2), "not zero");
    fill(p, 2, 0x600);
    check("DONTUNMAP: the two ranges are separate", holds((char *)moved, 2, 0x500), "changed");
    unmap((void *)moved, 2);
    unmap(p, 2);
    // Shared memory: the old range faults the same object's pages in again.
    char *s = map(2, PROT_READ | PROT_WRITE, MAP_SHARED);
    fill(s, 2, 0x700);
    moved = sys_mremap(s, 2 * PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
    check("DONTUNMAP of shared memory", moved > 0 && holds((char *)moved, 2, 0x700), "not moved");
    if (moved <= 0) return;
    check("DONTUNMAP of shared memory: the old range sees the object", holds(s, 2, 0x700), "contents differ");
    unmap((void *)moved, 2);
    unmap(s, 2);
}

static void duplicate_shared(void) {
    char *s = map(4, PROT_READ | PROT_WRITE, MAP_SHARED);
    fill(s, 4, 0x800);
    long second = sys_mremap(s + PAGE_SIZE, 0, 2 * PAGE_SIZE, MREMAP_MAYMOVE, 0);
    check("old_size 0 on shared memory maps it again", second > 0 && second != (long)(s + PAGE_SIZE), "failed");
    if (second <= 0) return;
    char *q = (char *)second;
    check("the second mapping shows the same pages", holds(q, 2, 0x801), "contents differ");
    *(u64 *)(q + PAGE_SIZE) = 0xabc;
    check("a write through it shows in the first", *(volatile u64 *)(s + 2 * PAGE_SIZE) == 0xabc, "not seen");
    check("the first mapping stays whole", holds(s, 2, 0x800) && holds(s + 3 * PAGE_SIZE, 1, 0x803), "changed");
    check_equal("old_size 0 without MAYMOVE is ENOMEM", sys_mremap(s + PAGE_SIZE, 0, PAGE_SIZE, 0, 0), -ENOMEM);
    unmap(q, 2);
    unmap(s, 4);
    char *p = map_private(1);
    check_equal("old_size 0 on a private mapping is EINVAL", sys_mremap(p, 0, PAGE_SIZE, MREMAP_MAYMOVE, 0), -EINVAL);
    unmap(p, 1);
}

// The child moves its copy-on-write pages, writes, and checks; exit 0 if right.
static char *cow_base;
static void child_moves(u64 target) {
    long moved = sys_mremap(cow_base, 4 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)target);
    if (moved != (long)target || !holds((char *)target, 4, 0xc00)) sys_exit(2);
    fill((char *)target, 4, 0xd00);
    sys_exit(holds((char *)target, 4, 0xd00) ? 0 : 3);
}
static void parent_moves_after_fork(u64 unused) {
    (void)unused;
    sys_exit(holds(cow_base, 4, 0xc00) ? 0 : 4);
}

static void after_fork(void) {
    cow_base = map_private(4);
    char *target = map_private(4);
    fill(cow_base, 4, 0xc00);
    expect_status("a child moves its COW pages and writes", run_child(child_moves, (u64)target), 0, 0);
    check("the parent keeps its own data", holds(cow_base, 4, 0xc00), "changed by the child");
    // The parent moves, then a new child checks what it inherited.
    long moved = sys_mremap(cow_base, 4 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    check_equal("the parent moves after the fork", moved, (long)target);
    cow_base = target;
    expect_status("the next child sees the moved pages", run_child(parent_moves_after_fork, 0), 0, 0);
    fill(cow_base, 4, 0xe00);
    check("the parent writes after moving", holds(cow_base, 4, 0xe00), "lost");
    unmap(cow_base, 4);
}

static void errors(void) {
    char *p = map_private(4);
    char *gap = map_private(1);
    unmap(gap, 1);
    fill(p, 4, 0xf00);
    check_equal("unknown flags: EINVAL", sys_mremap(p, PAGE_SIZE, PAGE_SIZE, 8, 0), -EINVAL);
    check_equal("unaligned old address: EINVAL", sys_mremap(p + 1, PAGE_SIZE, PAGE_SIZE, 0, 0), -EINVAL);
    check_equal("new size 0: EINVAL", sys_mremap(p, PAGE_SIZE, 0, MREMAP_MAYMOVE, 0), -EINVAL);
    check_equal("FIXED without MAYMOVE: EINVAL", sys_mremap(p, PAGE_SIZE, PAGE_SIZE, MREMAP_FIXED, gap), -EINVAL);
    check_equal("FIXED without MAYMOVE before the lookup: EINVAL",
                sys_mremap(gap, PAGE_SIZE, PAGE_SIZE, MREMAP_FIXED, p), -EINVAL);
    check_equal("DONTUNMAP resizing: EINVAL",
                sys_mremap(p, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0), -EINVAL);
    check_equal("FIXED unaligned new address: EINVAL",
                sys_mremap(p, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, gap + 8), -EINVAL);
    check_equal("FIXED overlapping: EINVAL",
                sys_mremap(p, 2 * PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, p + PAGE_SIZE), -EINVAL);
    check_equal("nothing mapped: EFAULT", sys_mremap(gap, PAGE_SIZE, PAGE_SIZE, 0, 0), -EFAULT);
    check_equal("nothing mapped, moving: EFAULT", sys_mremap(gap, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE, 0),
                -EFAULT);
    protect(p + 2 * PAGE_SIZE, 2, PROT_READ);
    check_equal("a range over two mappings: EFAULT",
                sys_mremap(p + PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE, MREMAP_MAYMOVE, 0), -EFAULT);
    unmap(p + 3 * PAGE_SIZE, 1);
    check_equal("a range into a hole: EFAULT",
                sys_mremap(p + 2 * PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE, MREMAP_MAYMOVE, 0), -EFAULT);
    check_equal("blocked without MAYMOVE: ENOMEM", sys_mremap(p, PAGE_SIZE, 2 * PAGE_SIZE, 0, 0), -ENOMEM);
    check_equal("no room anywhere: ENOMEM",
                sys_mremap(p + 2 * PAGE_SIZE, PAGE_SIZE, 0x7fffffff0000UL, MREMAP_MAYMOVE, 0), -ENOMEM);
    check("errors change nothing", holds(p, 3, 0xf00), "contents changed");
    unmap(p, 3);
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    shrink();
    grow_in_place();
    grow_by_moving();
    fixed();
    big_move();
    dont_unmap();
    duplicate_shared();
    after_fork();
    errors();
    return 0;
}
