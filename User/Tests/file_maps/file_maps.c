// file_maps: file mappings, may-permissions and the page cache (issue [5]).
//
// The file is the test's own executable, argv[0]: /bin/file_maps in the
// boot archive on SwiftKernel, build/user/bin/file_maps natively. It is
// opened read-only, so (Linux do_mmap, do_mprotect_pkey):
// - MAP_SHARED with PROT_WRITE is EACCES, and so is a later
//   mprotect(PROT_WRITE) of a read-only MAP_SHARED mapping (VM_MAYWRITE is
//   cleared); PROT_EXEC is still allowed;
// - MAP_SHARED|PROT_READ sees the file's bytes;
// - MAP_PRIVATE may become writable: a write copies the page, and the file
//   and every other mapping of it stay unchanged (also across fork);
// - the bytes past the end of the file in its last page read as zero, a
//   page wholly past the end gives SIGBUS, private or shared.
//
// Text sharing: the program carries BULK_PAGES pages of text. N children
// exec it (`file_maps hold DEADLINE`), each reads every page of that text,
// then stays alive until DEADLINE (CLOCK_MONOTONIC ns). Meanwhile the parent
// samples free RAM with sysinfo(2) (Linux ABI, freeram * mem_unit) and keeps
// the lowest value. If the text frames are shared (one page-cache frame
// per page, as on Linux), a child costs its page tables, stack, data and
// kernel stack, far less than its text; if every exec copied the text it
// would cost more than the text. The check: the drop per child is below
// half the text. Other processes on a busy Linux host can make free RAM
// fall during a trial, so up to three trials are run and the best counts;
// a child that was not ready before the deadline (it exits 3) makes the
// next trial's window twice as long.
#include "ctest.h"

enum { MAP_SHARED = 0x01, O_RDONLY = 0, EACCES = 13, SYS_sysinfo = 99 };
enum { CLOCK_MONOTONIC = 1 };
enum { BULK_PAGES = 256, CHILDREN = 8, TRIALS = 3, NOT_READY = 3 };

// BULK_PAGES pages of text (`ret` bytes), never executed, only read.
__asm__(".section .text.bulk,\"ax\",@progbits\n"
        ".balign 4096\n.globl bulk_text\nbulk_text:\n"
        ".fill 256 * 4096, 1, 0xc3\n"
        ".globl bulk_text_end\nbulk_text_end:\n.previous\n");
extern const unsigned char bulk_text[], bulk_text_end[];

struct sysinfo_linux {
    long uptime;
    u64 loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    u16 procs, pad;
    u64 totalhigh, freehigh;
    u32 mem_unit;
    char reserved[4];
};

static void *map(void *address, u64 length, int prot, int flags, int fd, u64 offset) {
    return (void *)sc6(SYS_mmap, (long)address, (long)length, prot, flags, fd, (long)offset);
}
static u64 round_up(u64 n) { return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

static u64 now_ns(void) {
    long ts[2];
    sc3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)ts, 0);
    return (u64)ts[0] * 1000000000UL + (u64)ts[1];
}

static long free_ram(void) {
    struct sysinfo_linux info;
    if (sc1(SYS_sysinfo, (long)&info) != 0) return -1;
    return (long)(info.freeram * (info.mem_unit ? info.mem_unit : 1));
}

static u64 parse_u64(const char *s) {
    u64 v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (u64)(*s++ - '0');
    return v;
}

static void format_u64(char *out, u64 v) {
    char b[24]; int n = 0;
    do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (int i = 0; i < n; i++) out[i] = b[n - 1 - i];
    out[n] = 0;
}

// ---- the child of the sharing test ----------------------------------------------

// Reads every page of the bulk text, then waits for the deadline.
static __attribute__((noreturn)) void hold(u64 deadline) {
    volatile unsigned sum = 0;
    for (const unsigned char *p = bulk_text; p < bulk_text_end; p += PAGE_SIZE) sum += *(volatile const unsigned char *)p;
    if (now_ns() > deadline) sys_exit(NOT_READY);
    while (now_ns() < deadline) sc0(SYS_sched_yield);
    sys_exit(sum == BULK_PAGES * 0xc3u ? 0 : 1);
}

// ---- the file checks ---------------------------------------------------------

static const char *program;
static unsigned char *contents;   // the file, read with read(2)
static u64 size;

static void read_file(void) {
    long fd = sc3(SYS_open, (long)program, O_RDONLY, 0);
    if (fd < 0) { check_equal("open argv[0]", fd, 0); sys_exit(1); }
    contents = map(0, 64UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long n;
    while ((n = sc3(SYS_read, fd, (long)(contents + size), 1 << 16)) > 0) size += (u64)n;
    sc1(SYS_close, fd);
    check("read the program file", n == 0 && size > BULK_PAGES * PAGE_SIZE, "short or failed read");
}

static int same_bytes(const unsigned char *a, const unsigned char *b, u64 n) {
    for (u64 i = 0; i < n; i++) if (a[i] != b[i]) return 0;
    return 1;
}

static int zero_bytes(const unsigned char *a, u64 n) {
    for (u64 i = 0; i < n; i++) if (a[i]) return 0;
    return 1;
}

static void touch(u64 address) { (void)*(volatile unsigned char *)address; }

static void may_permissions(long fd) {
    void *p = map(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check_equal("MAP_SHARED|PROT_WRITE of a read-only fd: EACCES", (long)p, -EACCES);
    p = map(0, size, PROT_WRITE, MAP_SHARED, fd, 0);
    check_equal("MAP_SHARED write-only: EACCES", (long)p, -EACCES);
    unsigned char *shared = map(0, size, PROT_READ, MAP_SHARED, fd, 0);
    if (mmap_failed(shared)) { check_equal("MAP_SHARED|PROT_READ", (long)shared, 0); return; }
    check("MAP_SHARED|PROT_READ sees the file", same_bytes(shared, contents, size), "bytes differ");
    check_equal("mprotect(PROT_WRITE) of a shared read-only mapping: EACCES",
                sc3(SYS_mprotect, (long)shared, PAGE_SIZE, PROT_READ | PROT_WRITE), -EACCES);
    check_equal("mprotect(PROT_WRITE) of the whole mapping: EACCES",
                sc3(SYS_mprotect, (long)shared, (long)size, PROT_WRITE), -EACCES);
    check_equal("mprotect(PROT_EXEC) of it is allowed", sc3(SYS_mprotect, (long)shared, PAGE_SIZE, PROT_READ | PROT_EXEC), 0);
    check_equal("mprotect(PROT_NONE) then back", sc3(SYS_mprotect, (long)shared, PAGE_SIZE, PROT_NONE)
                    | sc3(SYS_mprotect, (long)shared, PAGE_SIZE, PROT_READ), 0);
    check("still the file's bytes", same_bytes(shared, contents, PAGE_SIZE), "bytes differ");
    sc3(SYS_munmap, (long)shared, (long)size, 0);
}

static void private_copy_on_write(long fd) {
    unsigned char *private = map(0, size, PROT_READ, MAP_PRIVATE, fd, 0);
    unsigned char *shared = map(0, size, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *other = map(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (mmap_failed(private) || mmap_failed(shared) || mmap_failed(other)) {
        check("three mappings of the file", 0, "mmap failed");
        return;
    }
    u64 middle = (size / 2) & ~(PAGE_SIZE - 1);
    check_equal("MAP_PRIVATE|PROT_READ may become writable",
                sc3(SYS_mprotect, (long)private, (long)size, PROT_READ | PROT_WRITE), 0);
    private[0] = (unsigned char)~contents[0];
    private[middle + 1] = (unsigned char)~contents[middle + 1];
    other[middle + 1] = 0x5a ^ contents[middle + 1];
    check("a private write is seen by its mapping", private[0] == (unsigned char)~contents[0]
          && private[middle + 1] == (unsigned char)~contents[middle + 1], "lost");
    check("another private mapping still sees the file", other[0] == contents[0], "changed");
    check("the private mappings are private to each other",
          other[middle + 1] == (0x5a ^ contents[middle + 1]), "shared a copy");
    check("the shared mapping still sees the file",
          shared[0] == contents[0] && shared[middle + 1] == contents[middle + 1], "changed");
    check("the rest of the private mapping is the file's",
          same_bytes(private + PAGE_SIZE, contents + PAGE_SIZE, middle - PAGE_SIZE), "bytes differ");
    long pid = sc0(SYS_fork);
    if (pid == 0) {
        // The child sees the parent's private copy, then writes its own.
        int ok = private[0] == (unsigned char)~contents[0] && shared[0] == contents[0];
        private[0] = 0x11;
        sys_exit(ok ? 0 : 1);
    }
    int status = 0;
    sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
    expect_status("the child sees the private copy and the file", status, 0, 0);
    check("the child's write stayed in the child", private[0] == (unsigned char)~contents[0], "leaked");
    unsigned char again[16];
    long fd2 = sc3(SYS_open, (long)program, O_RDONLY, 0);
    long n = sc3(SYS_read, fd2, (long)again, sizeof again);
    sc1(SYS_close, fd2);
    check("the file is unchanged", n == sizeof again && same_bytes(again, contents, sizeof again), "changed");
    sc3(SYS_munmap, (long)private, (long)size, 0);
    sc3(SYS_munmap, (long)shared, (long)size, 0);
    sc3(SYS_munmap, (long)other, (long)size, 0);
}

static void end_of_file(long fd) {
    u64 mapped = round_up(size) + PAGE_SIZE;   // one page wholly past the end
    for (int shared = 0; shared < 2; shared++) {
        unsigned char *p = map(0, mapped, PROT_READ, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
        if (mmap_failed(p)) { check("map past the end", 0, "mmap failed"); return; }
        if (size % PAGE_SIZE) {
            check(shared ? "shared: past EOF in the last page is zero" : "private: past EOF in the last page is zero",
                  zero_bytes(p + size, round_up(size) - size)
                      && same_bytes(p + (size & ~(PAGE_SIZE - 1)), contents + (size & ~(PAGE_SIZE - 1)), size % PAGE_SIZE),
                  "nonzero tail");
        } else {
            pass("the file ends on a page boundary: no partial page to check");
        }
        int status = run_child(touch, (u64)(p + round_up(size)));
        expect_status(shared ? "shared: a page wholly past EOF is SIGBUS" : "private: a page wholly past EOF is SIGBUS",
                      status, SIGBUS, 0);
        sc3(SYS_munmap, (long)p, (long)mapped, 0);
    }
}

// ---- text sharing ------------------------------------------------------------

// One trial: the lowest free RAM while CHILDREN hold the text, as a drop
// per child in bytes; -1 if a child was not ready in time (window too short).
static long trial(u64 window) {
    for (const unsigned char *p = bulk_text; p < bulk_text_end; p += PAGE_SIZE) touch((u64)p);   // warm the cache
    long before = free_ram();
    u64 deadline = now_ns() + window;
    char deadline_text[24];
    format_u64(deadline_text, deadline);
    const char *args[] = { program, "hold", deadline_text, 0 };
    const char *env[] = { 0 };
    long pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = sc0(SYS_fork);
        if (pids[i] == 0) {
            sc3(SYS_execve, (long)program, (long)args, (long)env);
            sys_exit(2);
        }
    }
    long lowest = before;
    while (now_ns() < deadline) {
        long free = free_ram();
        if (free >= 0 && free < lowest) lowest = free;
        sc0(SYS_sched_yield);
    }
    int late = 0, failed = 0;
    for (int i = 0; i < CHILDREN; i++) {
        int status = 0;
        if (pids[i] < 0 || sc6(SYS_wait4, pids[i], (long)&status, 0, 0, 0, 0) != pids[i]) { failed = 1; continue; }
        if (status_exited(status) && status_code(status) == NOT_READY) late = 1;
        else if (!status_exited(status) || status_code(status) != 0) failed = 1;
    }
    if (failed) { check("the holding children exit 0", 0, "a child failed"); return -2; }
    return late ? -1 : (before - lowest) / CHILDREN;
}

static void text_is_shared(void) {
    long text = (long)(bulk_text_end - bulk_text);
    check_equal("sysinfo works", free_ram() > 0, 1);
    long best = -1;
    u64 window = 2000000000UL;   // 2 s, doubled when a child was late
    for (int i = 0; i < TRIALS; i++) {
        long cost = trial(window);
        if (cost == -2) return;
        if (cost == -1) { window *= 2; continue; }
        if (best < 0 || cost < best) best = cost;
        if (best < text / 2) break;
    }
    ct_puts("file_maps: free RAM per child holding the text: ");
    ct_put_dec(best < 0 ? -1 : best / 1024);
    ct_puts(" KiB, text ");
    ct_put_dec(text / 1024);
    ct_puts(" KiB\n");
    check("children running one program share its text frames", best >= 0 && best < text / 2,
          best < 0 ? "no child was ready in time" : "each child cost more than half its text");
}

int test_main(int argc, char **argv) {
    program = argv[0];
    if (argc == 3 && argv[1][0] == 'h') hold(parse_u64(argv[2]));
    read_file();
    long fd = sc3(SYS_open, (long)program, O_RDONLY, 0);
    may_permissions(fd);
    private_copy_on_write(fd);
    end_of_file(fd);
    sc1(SYS_close, fd);
    text_is_shared();
    return 0;
}
