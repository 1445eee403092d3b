// User/Tests/bad_pointers: every pointer argument of every implemented
// syscall, given every kind of bad pointer (issue [6], "Bad syscall
// arguments"); and every length given 0, huge and unaligned values.
//
// The matrix is generated from two tables:
//   - kinds[]: the bad values a pointer takes (the columns): NULL, the
//     kernel's ranges (image, heap window, kernel stacks, direct map, and
//     Linux's text), non-canonical, unmapped, a range that wraps past 2^64,
//     one that starts valid and ends unmapped, a PROT_NONE page, a
//     read-only page; and two good ones that must work: an untouched
//     (demand-zero) page and a copy-on-write page shared with the parent.
//   - rows[]: one row per (syscall, argument index, direction): IN (the
//     kernel reads the memory), OUT (it writes it), RANGE (an address
//     range the syscall works on without copying: mmap, munmap, mprotect,
//     brk). A row's expectations are its direction's defaults (below)
//     with the row's own exceptions, each one Linux's behaviour.
// stderr must be a file, pipe or console, not /dev/null: the write cells
// write to it, and Linux reads nothing from /dev/null.
// Every cell runs in a forked child, which stores the syscall's result in
// a shared page and exits 0, so a cell that kills its task or corrupts
// its memory cannot hide: the parent checks the exit status too.
// The expectations are Linux's (6.x, checked natively: this program
// passes on the Linux host). Where SwiftKernel's layout differs (its
// kernel image, heap and stacks lie at 0x7f80_0000_0000+, which is user
// space on Linux), the rule is: on SwiftKernel those addresses get what
// Linux gives for its own kernel addresses (the direct-map column), on
// Linux what it gives for an unmapped user address.
// The lengths table (length_cases[]) gives each length argument 0, a
// huge value and an unaligned one.
#include "ctest.h"

enum { ENOENT = 2, EPERM = 1, ENOMEM = 12, E2BIG = 7 };
enum { O_RDONLY = 0, O_DIRECTORY = 0x10000, AT_FDCWD = -100, CLOCK_MONOTONIC = 1 };
enum { MAP_SHARED = 0x01, SYS_getuid = 102 };
enum { EXEC_TARGET_EXIT = 42 };        // what this program exits with when exec'd as a target
#define EXEC_TARGET_FLAG "--exec-target"

static int swift;                      // on SwiftKernel (else Linux)
static int linux_root;                 // Linux with CAP_SYS_RAWIO: mmap below mmap_min_addr works
static const char *self_path;          // argv[0]: a file and an executable in both worlds
static const char *directory_path = "/bin";

// ---- The columns: kinds of pointer ---------------------------------------------
enum kind {
    K_NULL, K_KERNEL_IMAGE, K_KERNEL_HEAP, K_KERNEL_STACKS, K_DIRECT_MAP, K_LINUX_TEXT, K_NON_CANONICAL,
    K_UNMAPPED, K_WRAP, K_PARTIAL, K_PROT_NONE, K_READ_ONLY, K_FRESH, K_COW, K_KINDS
};
static const char *const kind_names[K_KINDS] = {
    "NULL", "kernel-image", "kernel-heap", "kernel-stacks", "direct-map", "linux-text", "non-canonical",
    "unmapped", "wrapping", "valid-then-unmapped", "PROT_NONE", "read-only", "untouched", "copy-on-write",
};
// SwiftKernel's kernel (KernelLayout.swift, KernelStacks.swift): user space
// on Linux, whose own kernel half starts at 0xffff_8000_0000_0000.
static int swift_kernel_only(enum kind k) { return k == K_KERNEL_IMAGE || k == K_KERNEL_HEAP || k == K_KERNEL_STACKS; }
static const u64 fixed_addresses[K_KINDS] = {
    [K_NULL] = 0,
    [K_KERNEL_IMAGE] = 0x00007f8000200000UL,    // .text
    [K_KERNEL_HEAP] = 0x00007f8001000000UL,     // the heap window, after the image
    [K_KERNEL_STACKS] = 0x00007fc000001000UL,   // the first kernel stack
    [K_DIRECT_MAP] = 0xffff800000200000UL,      // the direct-map alias of .text
    [K_LINUX_TEXT] = 0xffffffff81000000UL,
    [K_NON_CANONICAL] = 0x0000800000000000UL,
};
// Where a wrapping range starts: [start, start + length) passes 2^64.
static const u64 wrap_pointer = 0xfffffffffffffff0UL, wrap_page = 0xfffffffffffff000UL;

// The arena, mapped once by the parent (children inherit it):
//   page 0 RW | page 1 unmapped | page 2 PROT_NONE | page 3 read-only |
//   page 4 RW, untouched | page 5 RW, touched before fork (copy-on-write)
enum { ARENA_PAGES = 6, P_VALID = 0, P_HOLE = 1, P_NONE = 2, P_RO = 3, P_FRESH = 4, P_COW = 5 };
static u8 *arena;
static u8 *page(int n) { return arena + n * PAGE_SIZE; }
enum { PARTIAL_VALID = 16 };           // valid bytes before the hole
static const u8 cow_pattern = 0x5a;

// The shared page: a child's result.
static volatile long *result_slot;

// ---- The rows ---------------------------------------------------------------------
enum direction { IN, OUT, RANGE };
static const char *const direction_names[] = {"in", "out", "range"};

// Expected results (one per kind): -errno, or one of these markers.
// Markers lie far above any count or errno.
#define X_OK              (1L << 40)       // >= 0 (an fd, a pid, 0)
#define X_ZERO            (X_OK + 1)       // exactly 0
#define X_SHORT           (X_OK + 2)       // the bytes before the hole (partial_valid), a short copy
#define X_SHORT_OR_EFAULT (X_OK + 3)       // that, or -EFAULT: Linux's write() depends on the file
                                           // (a regular file copies what it can, a tty whole chunks)
#define X_EXECED          (X_OK + 4)       // execve succeeded: the child exited EXEC_TARGET_EXIT
#define X_USER_ADDRESS    (X_OK + 5)       // a page-aligned user address (mmap)
#define X_CURRENT_BRK     (X_OK + 6)       // the unchanged break (brk refuses by returning it)
#define X_EPERM_OR_OK     (X_OK + 7)       // mmap at 0: EPERM, or success with CAP_SYS_RAWIO (root on Linux)
#define X_UNSET           0                // take the direction's default
static const char *const marker_names[] = {
    "a success", "0", "the short count", "a short count or -EFAULT", "a successful execve",
    "a user address", "the unchanged break", "-EPERM (or 0 as root on Linux)",
};

struct row {
    const char *name;
    int number;             // the syscall
    int argument;           // which argument is the pointer (0-based)
    enum direction direction;
    u64 size;               // bytes at the pointer: the count passed, or the struct size
    // Puts what the syscall must find at `p` when the memory is good (IN rows).
    void (*prepare)(u8 *p);
    long (*call)(u64 p);
    long expect[K_KINDS];   // X_UNSET entries take the defaults
};

// The defaults. IN: every bad pointer is EFAULT, memory that can be read
// works. OUT: every bad pointer and the read-only page are EFAULT; a
// range ending in the hole is EFAULT too (Linux's copy_to_user copies a
// prefix, but most syscalls then return -EFAULT). RANGE rows list all.
static long default_expectation(enum direction d, enum kind k) {
    if (d == RANGE) return X_UNSET;
    switch (k) {
    case K_FRESH: case K_COW: return X_OK;
    case K_READ_ONLY: return d == IN ? X_OK : -EFAULT;
    default: return -EFAULT;
    }
}

static long fresh_fd(const char *path, int flags) { return sc3(SYS_open, (long)path, flags, 0); }

static void copy_string(u8 *p, const char *s) { u64 i = 0; do p[i] = s[i]; while (s[i++]); }
static void prepare_self_path(u8 *p) { copy_string(p, self_path); }
static void prepare_newlines(u8 *p) { for (int i = 0; i < 64; i++) p[i] = '\n'; }
// argv/envp: {p + 64 -> "x"/EXEC_TARGET_FLAG, NULL}; strings follow the array.
static void prepare_argv(u8 *p) {
    u64 *array = (u64 *)p;
    copy_string(p + 64, "bad_pointers");
    copy_string(p + 96, EXEC_TARGET_FLAG);
    array[0] = (u64)(p + 64); array[1] = (u64)(p + 96); array[2] = 0;
}
static void prepare_envp(u8 *p) {
    u64 *array = (u64 *)p;
    copy_string(p + 64, "BAD_POINTERS=1");
    array[0] = (u64)(p + 64); array[1] = 0;
}
static void prepare_argument_string(u8 *p) { copy_string(p, EXEC_TARGET_FLAG); }

static const char *const target_argv[] = {"bad_pointers", EXEC_TARGET_FLAG, 0};
static const char *const target_envp[] = {"BAD_POINTERS=1", 0};

// read: from a file opened in the child (its own offset).
static long call_read(u64 p) { return sc3(SYS_read, fresh_fd(self_path, O_RDONLY), (long)p, 64); }
static long call_read_zero(u64 p) { return sc3(SYS_read, fresh_fd(self_path, O_RDONLY), (long)p, 0); }
// write: to stderr, which the native runner keeps apart from the results.
static long call_write(u64 p) { return sc3(SYS_write, 2, (long)p, 64); }
static long call_write_zero(u64 p) { return sc3(SYS_write, 2, (long)p, 0); }
static long call_open(u64 p) { return sc3(SYS_open, (long)p, O_RDONLY, 0); }
static long call_openat(u64 p) { return sc6(SYS_openat, AT_FDCWD, (long)p, O_RDONLY, 0, 0, 0); }
static long call_getdents64(u64 p) {
    return sc3(SYS_getdents64, fresh_fd(directory_path, O_RDONLY | O_DIRECTORY), (long)p, 4096);
}
static long call_uname(u64 p) { return sc1(SYS_uname, (long)p); }
static long call_clock_gettime(u64 p) { return sc3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)p, 0); }

// wait4 on a zombie child. Linux reaps it before storing the status or
// the rusage, so a bad pointer loses the status: -EFAULT, then -ECHILD.
enum { NOT_REAPED = -1000 };
static long wait_zombie(u64 status, u64 rusage) {
    long pid = sc0(SYS_fork);
    if (pid == 0) sys_exit(7);
    long r = sc6(SYS_wait4, pid, (long)status, 0, (long)rusage, 0, 0);
    long again = sc6(SYS_wait4, pid, 0, 0, 0, 0, 0);
    if (again != -ECHILD) return NOT_REAPED;
    return r == pid ? 0 : r;
}
static long call_wait4_status(u64 p) { return wait_zombie(p, 0); }
static long call_wait4_rusage(u64 p) { int status; return wait_zombie((u64)&status, p); }

static long call_execve_path(u64 p) { return sc3(SYS_execve, (long)p, (long)target_argv, (long)target_envp); }
static long call_execve_argv(u64 p) { return sc3(SYS_execve, (long)self_path, (long)p, (long)target_envp); }
static long call_execve_envp(u64 p) { return sc3(SYS_execve, (long)self_path, (long)target_argv, (long)p); }
static long call_execve_argv_string(u64 p) {
    const char *argv[] = {"bad_pointers", (const char *)p, 0};
    return sc3(SYS_execve, (long)self_path, (long)argv, (long)target_envp);
}
static long call_execve_envp_string(u64 p) {
    const char *envp[] = {"BAD_POINTERS=1", (const char *)p, 0};
    return sc3(SYS_execve, (long)self_path, (long)target_argv, (long)envp);
}

// RANGE rows: the length is one page, two where the range starts valid
// and ends in the hole or wraps.
static u64 range_length(u64 p) {
    return p == (u64)page(P_VALID) || p == wrap_page ? 2 * PAGE_SIZE : PAGE_SIZE;
}
static long call_mmap_hint(u64 p) {
    return sc6(SYS_mmap, (long)p, (long)range_length(p), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
static long call_mmap_fixed(u64 p) {
    return sc6(SYS_mmap, (long)p, (long)range_length(p), PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}
static long call_munmap(u64 p) { return sc3(SYS_munmap, (long)p, (long)range_length(p), 0); }
static long call_mprotect(u64 p) { return sc3(SYS_mprotect, (long)p, (long)range_length(p), PROT_READ); }
static long call_brk(u64 p) { return sc1(SYS_brk, (long)p); }

#define ALL(x) {x, x, x, x, x, x, x, x, x, x, x, x, x, x}

static const struct row rows[] = {
    // read(fd, buf, count): a regular file copies up to the hole and
    // returns the short count (filemap_read). count 0: nothing is
    // touched, only access_ok runs, so only kernel addresses fail.
    {"read", SYS_read, 1, OUT, 64, 0, call_read, {[K_PARTIAL] = X_SHORT}},
    {"read/count-0", SYS_read, 1, OUT, 0, 0, call_read_zero,
     {[K_NULL] = X_ZERO, [K_UNMAPPED] = X_ZERO, [K_PARTIAL] = X_ZERO, [K_PROT_NONE] = X_ZERO,
      [K_READ_ONLY] = X_ZERO, [K_FRESH] = X_ZERO, [K_COW] = X_ZERO}},
    {"write", SYS_write, 1, IN, 64, prepare_newlines, call_write, {[K_PARTIAL] = X_SHORT_OR_EFAULT}},
    {"write/count-0", SYS_write, 1, IN, 0, 0, call_write_zero,
     {[K_NULL] = X_ZERO, [K_UNMAPPED] = X_ZERO, [K_PARTIAL] = X_ZERO, [K_PROT_NONE] = X_ZERO,
      [K_READ_ONLY] = X_ZERO, [K_FRESH] = X_ZERO, [K_COW] = X_ZERO}},
    // Paths: strncpy_from_user, EFAULT wherever the string cannot be read.
    // An untouched page is an empty string: ENOENT.
    {"open", SYS_open, 0, IN, 0, prepare_self_path, call_open, {[K_FRESH] = -ENOENT}},
    {"openat", SYS_openat, 1, IN, 0, prepare_self_path, call_openat, {[K_FRESH] = -ENOENT}},
    // getdents64: the first record's d_reclen lies past the 16 valid bytes.
    {"getdents64", SYS_getdents64, 1, OUT, 4096, 0, call_getdents64, {0}},
    {"uname", SYS_uname, 0, OUT, 390, 0, call_uname, {0}},
    {"clock_gettime", SYS_clock_gettime, 1, OUT, 16, 0, call_clock_gettime, {0}},
    // wait4: NULL means "do not store". The child is reaped either way.
    {"wait4/status", SYS_wait4, 1, OUT, 4, 0, call_wait4_status, {[K_NULL] = X_ZERO}},
    {"wait4/rusage", SYS_wait4, 3, OUT, 144, 0, call_wait4_rusage, {[K_NULL] = X_ZERO}},
    // execve: the file is opened before argv and envp are read. A NULL
    // argv or envp is an empty array (Linux >= 5.18 then passes argv[0]
    // = ""), and a NULL element ends its array: both run the program.
    {"execve/path", SYS_execve, 0, IN, 0, prepare_self_path, call_execve_path,
     {[K_FRESH] = -ENOENT, [K_READ_ONLY] = X_EXECED, [K_COW] = X_EXECED}},
    {"execve/argv", SYS_execve, 1, IN, 24, prepare_argv, call_execve_argv,
     {[K_NULL] = X_EXECED, [K_READ_ONLY] = X_EXECED, [K_FRESH] = X_EXECED, [K_COW] = X_EXECED}},
    {"execve/envp", SYS_execve, 2, IN, 16, prepare_envp, call_execve_envp,
     {[K_NULL] = X_EXECED, [K_READ_ONLY] = X_EXECED, [K_FRESH] = X_EXECED, [K_COW] = X_EXECED}},
    {"execve/argv[1]", SYS_execve, 1, IN, 0, prepare_argument_string, call_execve_argv_string,
     {[K_NULL] = X_EXECED, [K_READ_ONLY] = X_EXECED, [K_FRESH] = X_EXECED, [K_COW] = X_EXECED}},
    {"execve/envp[1]", SYS_execve, 2, IN, 0, prepare_argument_string, call_execve_envp_string,
     {[K_NULL] = X_EXECED, [K_READ_ONLY] = X_EXECED, [K_FRESH] = X_EXECED, [K_COW] = X_EXECED}},
    // mmap's address is a hint without MAP_FIXED: a bad one is ignored.
    {"mmap/hint", SYS_mmap, 0, RANGE, 0, 0, call_mmap_hint, ALL(X_USER_ADDRESS)},
    // MAP_FIXED: past TASK_SIZE is ENOMEM (get_unmapped_area), below
    // mmap_min_addr EPERM (cap_mmap_addr), anything in user space replaces.
    {"mmap/fixed", SYS_mmap, 0, RANGE, 0, 0, call_mmap_fixed,
     {X_EPERM_OR_OK, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, X_USER_ADDRESS, -ENOMEM,
      X_USER_ADDRESS, X_USER_ADDRESS, X_USER_ADDRESS, X_USER_ADDRESS, X_USER_ADDRESS}},
    // munmap: past TASK_SIZE or wrapping is EINVAL; holes are fine.
    {"munmap", SYS_munmap, 0, RANGE, 0, 0, call_munmap,
     {X_ZERO, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, X_ZERO, -EINVAL, X_ZERO, X_ZERO, X_ZERO,
      X_ZERO, X_ZERO}},
    // mprotect: any page without a mapping is ENOMEM (do_mprotect_pkey).
    {"mprotect", SYS_mprotect, 0, RANGE, 0, 0, call_mprotect,
     {-ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, X_ZERO,
      X_ZERO, X_ZERO, X_ZERO}},
    // brk: a break it cannot set (over mappings, in the kernel) leaves the
    // break as it was and returns it.
    {"brk", SYS_brk, 0, RANGE, 0, 0, call_brk, ALL(X_CURRENT_BRK)},
};
enum { ROW_COUNT = sizeof rows / sizeof rows[0] };

// What a cell's result is compared with besides its expectation.
struct cell_context {
    long valid;          // K_PARTIAL: bytes before the hole
    long current_brk;    // the break before the cell
};

// Bytes left valid before the hole for K_PARTIAL: fewer than the row
// needs, so the access must reach the hole. Arrays (argv, envp) keep
// every pointer and lose their NULL terminator.
static long partial_valid(const struct row *r) {
    if (r->prepare == prepare_argv || r->prepare == prepare_envp) return (long)r->size - 8;
    if (r->size == 0 || r->size > 2 * PARTIAL_VALID) return PARTIAL_VALID;
    return (long)r->size / 2;
}

// The pointer for a cell. For K_PARTIAL, IN and OUT rows point
// partial_valid bytes before the hole; where the memory is good (read-only,
// copy-on-write) the row's good contents are put there first.
static u64 pointer_for(const struct row *r, enum kind k) {
    switch (k) {
    case K_UNMAPPED: return (u64)page(P_HOLE);
    case K_WRAP: return r->direction == RANGE ? wrap_page : wrap_pointer;
    case K_PARTIAL:
        if (r->direction == RANGE) return (u64)page(P_VALID);
        {
            long valid = partial_valid(r);
            u8 *p = page(P_HOLE) - valid;
            // Strings run into the hole without a NUL.
            for (long i = 0; i < valid; i++) p[i] = 'a';
            if (r->prepare == prepare_argv) { ((u64 *)p)[0] = (u64)target_argv[0]; ((u64 *)p)[1] = (u64)target_argv[1]; }
            if (r->prepare == prepare_envp) ((u64 *)p)[0] = (u64)target_envp[0];
            return (u64)p;
        }
    case K_PROT_NONE: return (u64)page(P_NONE);
    case K_READ_ONLY:
        if (r->prepare) {
            sc3(SYS_mprotect, (long)page(P_RO), PAGE_SIZE, PROT_READ | PROT_WRITE);
            r->prepare(page(P_RO));
            sc3(SYS_mprotect, (long)page(P_RO), PAGE_SIZE, PROT_READ);
        }
        return (u64)page(P_RO);
    case K_FRESH: return (u64)page(P_FRESH);
    case K_COW:
        if (r->prepare) r->prepare(page(P_COW));
        return (u64)page(P_COW);
    default: return fixed_addresses[k];
    }
}

static long expectation(const struct row *r, enum kind k) {
    // SwiftKernel's kernel addresses: Linux's result for its own kernel
    // addresses here, for an unmapped user page on Linux.
    if (swift_kernel_only(k)) k = swift ? K_DIRECT_MAP : K_UNMAPPED;
    long e = r->expect[k];
    return e == X_UNSET ? default_expectation(r->direction, k) : e;
}

static int matches(long expected, long got, const struct cell_context *c) {
    switch (expected) {
    case X_OK: return got >= 0;
    case X_ZERO: return got == 0;
    case X_SHORT: return got == c->valid;
    case X_SHORT_OR_EFAULT: return got == -EFAULT || (got > 0 && got <= c->valid);
    case X_EXECED: return got == X_EXECED;
    case X_USER_ADDRESS:
        return got > 0 && ((u64)got & (PAGE_SIZE - 1)) == 0 && (u64)got < (swift ? 0x00007f8000000000UL : 0x0000800000000000UL);
    case X_CURRENT_BRK: return got == c->current_brk;
    case X_EPERM_OR_OK: return linux_root ? got == 0 : got == -EPERM;
    default: return got == expected;
    }
}

static const struct row *cell_row;
static enum kind cell_kind;
static void run_cell(u64 unused) {
    (void)unused;
    *result_slot = cell_row->call(pointer_for(cell_row, cell_kind));
}

static int cells_run, cell_failures;
static int verbose;                    // argv[1] == "-v": one line per cell

static void trace_cell(const char *row, const char *kind, long got, int status) {
    if (!verbose) return;
    ct_puts("cell "); ct_puts(row); ct_puts(" "); ct_puts(kind); ct_puts(" = ");
    if (got == X_EXECED) ct_puts("execed"); else ct_put_dec(got);
    ct_puts(" ("); put_status(status); ct_puts(")\n");
}

static void report_cell(const struct row *r, enum kind k, long expected, long got, const char *why) {
    cell_failures++;
    fail_begin("cell"); ct_puts(r->name); ct_puts(" arg "); ct_put_dec(r->argument); ct_puts(" (");
    ct_puts(direction_names[r->direction]); ct_puts(") "); ct_puts(kind_names[k]); ct_puts(": ");
    if (why) { ct_puts(why); ct_puts("\n"); return; }
    ct_puts("got "); ct_put_dec(got); ct_puts(", expected ");
    if (expected >= X_OK) ct_puts(marker_names[expected - X_OK]); else ct_put_dec(expected);
    ct_puts("\n");
}

static void run_row(const struct row *r) {
    int before = cell_failures;
    for (int k = 0; k < K_KINDS; k++) {
        long expected = expectation(r, (enum kind)k);
        for (u64 i = 0; i < PAGE_SIZE; i++) page(P_COW)[i] = cow_pattern;
        struct cell_context context = {partial_valid(r), sc1(SYS_brk, 0)};
        *result_slot = NOT_REAPED - 1;
        cell_row = r; cell_kind = (enum kind)k;
        int status = run_child(run_cell, 0);
        cells_run++;
        if (status == -1) { cell_failures++; continue; }
        long got = *result_slot;
        if (status_exited(status) && status_code(status) == EXEC_TARGET_EXIT) got = X_EXECED;
        trace_cell(r->name, kind_names[k], got, status);
        if (got != X_EXECED && (!status_exited(status) || status_code(status) != 0)) {
            report_cell(r, (enum kind)k, expected, 0, status_exited(status) ? "the child exited non-zero"
                                                                             : "the child was killed by a signal");
            continue;
        }
        if (!matches(expected, got, &context)) { report_cell(r, (enum kind)k, expected, got, 0); continue; }
        // The child's writes into a copy-on-write page stay its own.
        for (u64 i = 0; i < PAGE_SIZE; i++)
            if (page(P_COW)[i] != cow_pattern) { report_cell(r, (enum kind)k, 0, 0, "the parent's copy-on-write page changed"); break; }
    }
    char name[64]; u64 n = 0;
    for (const char *s = "matrix/"; *s; s++) name[n++] = *s;
    for (const char *s = r->name; *s && n < sizeof name - 1; s++) name[n++] = *s;
    name[n] = 0;
    check(name, cell_failures == before, "see the cell lines above");
}

// ---- Lengths: 0, huge and unaligned ---------------------------------------------
struct length_case {
    const char *name;
    long (*call)(void);
    long expect;        // -errno or a marker (X_SHORT: one page)
};
// 2^26 keeps buf + count inside user space on both (Linux's mmap area
// lies at least 128 MiB below TASK_SIZE); 2^63 and ~0 never do.
static u64 huge = 1UL << 26, huger = 1UL << 63;
static long len_read_huge(void) { return sc3(SYS_read, fresh_fd(self_path, O_RDONLY), (long)page(P_VALID), (long)huge); }
static long len_read_top(void) { return sc3(SYS_read, fresh_fd(self_path, O_RDONLY), (long)page(P_VALID), (long)huger); }
static long len_read_all_ones(void) { return sc3(SYS_read, fresh_fd(self_path, O_RDONLY), (long)page(P_VALID), -1); }
static long len_read_unaligned(void) { return sc3(SYS_read, fresh_fd(self_path, O_RDONLY), (long)page(P_VALID), 4095); }
static long len_write_top(void) { return sc3(SYS_write, 2, (long)page(P_VALID), (long)huger); }
static long len_write_all_ones(void) { return sc3(SYS_write, 2, (long)page(P_VALID), -1); }
static long len_getdents_zero(void) { return sc3(SYS_getdents64, fresh_fd(directory_path, O_RDONLY | O_DIRECTORY), (long)page(P_VALID), 0); }
static long len_getdents_one(void) { return sc3(SYS_getdents64, fresh_fd(directory_path, O_RDONLY | O_DIRECTORY), (long)page(P_VALID), 1); }
static long len_getdents_zero_null(void) { return sc3(SYS_getdents64, fresh_fd(directory_path, O_RDONLY | O_DIRECTORY), 0, 0); }
static long len_getdents_zero_kernel(void) {
    return sc3(SYS_getdents64, fresh_fd(directory_path, O_RDONLY | O_DIRECTORY), (long)fixed_addresses[K_DIRECT_MAP], 0);
}
// count is an unsigned int: 2^32 + 64 is 64 (the top half is ignored).
static long len_getdents_wide(void) {
    return sc3(SYS_getdents64, fresh_fd(directory_path, O_RDONLY | O_DIRECTORY), (long)(page(P_HOLE) - 64), (1L << 32) + 64);
}
static long len_mmap(u64 length) { return sc6(SYS_mmap, 0, (long)length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }
static long len_mmap_zero(void) { return len_mmap(0); }
static long len_mmap_huge(void) { return len_mmap(1UL << 62); }
static long len_mmap_all_ones(void) { return len_mmap(-1UL); }
static long len_mmap_unaligned(void) { return len_mmap(PAGE_SIZE + 1); }
static long len_munmap_zero(void) { return sc3(SYS_munmap, (long)page(P_VALID), 0, 0); }
static long len_munmap_huge(void) { return sc3(SYS_munmap, (long)page(P_VALID), 1L << 62, 0); }
static long len_munmap_unaligned(void) {
    long r = sc3(SYS_munmap, (long)page(P_VALID), 1, 0);
    // The whole page is gone: reading it must now fail.
    return r == 0 && sc3(SYS_write, 2, (long)page(P_VALID), 1) != -EFAULT ? -1 : r;
}
static long len_munmap_unaligned_address(void) { return sc3(SYS_munmap, (long)page(P_VALID) + 1, PAGE_SIZE, 0); }
static long len_mprotect_zero(void) { return sc3(SYS_mprotect, (long)page(P_VALID), 0, PROT_READ); }
static long len_mprotect_zero_unmapped(void) { return sc3(SYS_mprotect, (long)page(P_HOLE), 0, PROT_READ); }
static long len_mprotect_huge(void) { return sc3(SYS_mprotect, (long)page(P_VALID), 1L << 62, PROT_READ); }
static long len_mprotect_all_ones(void) { return sc3(SYS_mprotect, (long)page(P_VALID), -1, PROT_READ); }
static long len_mprotect_unaligned(void) {
    long r = sc3(SYS_mprotect, (long)page(P_RO), 1, PROT_READ | PROT_WRITE);
    page(P_RO)[PAGE_SIZE - 1] = 1;   // the whole page became writable
    return r;
}
static long len_mprotect_unaligned_address(void) { return sc3(SYS_mprotect, (long)page(P_VALID) + 1, PAGE_SIZE, PROT_READ); }

static long len_brk_all_ones(void) { return sc1(SYS_brk, -1); }
static long len_brk_top_page(void) { return sc1(SYS_brk, (long)wrap_page + 1); }

static const struct length_case length_cases[] = {
    // read: huge counts pass access_ok only while buf + count stays in
    // user space; then a regular file copies up to the first bad page.
    {"read/count-2^26", len_read_huge, X_SHORT},
    {"read/count-2^63", len_read_top, -EFAULT},
    {"read/count-all-ones", len_read_all_ones, -EFAULT},
    {"read/count-4095", len_read_unaligned, 4095},
    {"write/count-2^63", len_write_top, -EFAULT},
    {"write/count-all-ones", len_write_all_ones, -EFAULT},
    // getdents64: a buffer too small for one record is EINVAL, even NULL.
    {"getdents64/count-0", len_getdents_zero, -EINVAL},
    {"getdents64/count-1", len_getdents_one, -EINVAL},
    {"getdents64/count-0-NULL", len_getdents_zero_null, -EINVAL},
    {"getdents64/count-0-kernel", len_getdents_zero_kernel, -EINVAL},
    {"getdents64/count-2^32+64", len_getdents_wide, X_OK},
    {"mmap/length-0", len_mmap_zero, -EINVAL},
    {"mmap/length-2^62", len_mmap_huge, -ENOMEM},
    {"mmap/length-all-ones", len_mmap_all_ones, -ENOMEM},
    {"mmap/length-4097", len_mmap_unaligned, X_USER_ADDRESS},
    {"munmap/length-0", len_munmap_zero, -EINVAL},
    {"munmap/length-2^62", len_munmap_huge, -EINVAL},
    {"munmap/length-1", len_munmap_unaligned, 0},
    {"munmap/address-unaligned", len_munmap_unaligned_address, -EINVAL},
    {"mprotect/length-0", len_mprotect_zero, 0},
    {"mprotect/length-0-unmapped", len_mprotect_zero_unmapped, 0},
    {"mprotect/length-2^62", len_mprotect_huge, -ENOMEM},
    {"mprotect/length-all-ones", len_mprotect_all_ones, -ENOMEM},
    {"mprotect/length-1", len_mprotect_unaligned, 0},
    {"mprotect/address-unaligned", len_mprotect_unaligned_address, -EINVAL},
    // brk rounds its address up to a page: at the top of 2^64 that wraps.
    {"brk/all-ones", len_brk_all_ones, X_CURRENT_BRK},
    {"brk/last-page+1", len_brk_top_page, X_CURRENT_BRK},
};

static const struct length_case *length_cell;
static void run_length_cell(u64 unused) { (void)unused; *result_slot = length_cell->call(); }

static void length_cases_run(void) {
    int before = cell_failures;
    for (u64 i = 0; i < sizeof length_cases / sizeof length_cases[0]; i++) {
        const struct length_case *c = &length_cases[i];
        length_cell = c;
        long current_brk = sc1(SYS_brk, 0);
        *result_slot = NOT_REAPED - 1;
        int status = run_child(run_length_cell, 0);
        cells_run++;
        if (status == -1) { cell_failures++; continue; }
        long got = *result_slot;
        trace_cell(c->name, "", got, status);
        int ok = status_exited(status) && status_code(status) == 0;
        if (ok) {
            struct cell_context context = {PAGE_SIZE, current_brk};
            if (c->expect >= X_OK) ok = matches(c->expect, got, &context);
            else ok = got == c->expect;
        }
        if (ok) continue;
        cell_failures++;
        fail_begin("length"); ct_puts(c->name); ct_puts(": got "); ct_put_dec(got); ct_puts(", child ");
        put_status(status); ct_puts("\n");
    }
    check("lengths-0-huge-unaligned", cell_failures == before, "see the length lines above");
}

// ---- Setup --------------------------------------------------------------------------
static int setup_arena(void) {
    arena = sys_mmap(0, ARENA_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (mmap_failed(arena)) return 0;
    for (u64 i = 0; i < PAGE_SIZE; i++) page(P_VALID)[i] = '\n';
    for (u64 i = 0; i < PAGE_SIZE; i++) page(P_COW)[i] = cow_pattern;
    return sc3(SYS_munmap, (long)page(P_HOLE), PAGE_SIZE, 0) == 0
        && sc3(SYS_mprotect, (long)page(P_NONE), PAGE_SIZE, PROT_NONE) == 0
        && sc3(SYS_mprotect, (long)page(P_RO), PAGE_SIZE, PROT_READ) == 0;
}

static int equal(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

// Started by an execve cell: exit EXEC_TARGET_EXIT, which the parent
// counts as the exec's success. The cells pass EXEC_TARGET_FLAG in argv or
// BAD_POINTERS=1 in envp (or both). Linux >= 5.18 turns an empty argv
// into {""}, argc 1 (do_execveat_common); argc 0 is EXEC_TARGET_EXIT + 1.
static void exit_if_exec_target(int argc, char **argv) {
    char **envp = argv + argc + 1;
    if (argc == 0) sys_exit(EXEC_TARGET_EXIT + 1);
    if (argv[0][0] == 0) sys_exit(EXEC_TARGET_EXIT);
    for (int i = 1; i < argc; i++) if (equal(argv[i], EXEC_TARGET_FLAG)) sys_exit(EXEC_TARGET_EXIT);
    for (int i = 0; envp[i]; i++) if (equal(envp[i], target_envp[0])) sys_exit(EXEC_TARGET_EXIT);
}

int test_main(int argc, char **argv) {
    exit_if_exec_target(argc, argv);
    self_path = argv[0];
    verbose = argc > 1 && equal(argv[1], "-v");
    swift = on_swiftkernel();
    linux_root = !swift && sc0(SYS_getuid) == 0;
    result_slot = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    if (mmap_failed((void *)result_slot) || !setup_arena()) { check("setup", 0, "mmap failed"); return 0; }
    for (int i = 0; i < ROW_COUNT; i++) run_row(&rows[i]);
    length_cases_run();
    ct_puts("note: "); ct_put_dec(cells_run); ct_puts(" bad-pointer and length cells, ");
    ct_put_dec(cells_run - cell_failures); ct_puts(" as expected\n");
    long pid = sc0(SYS_getpid);
    check("kernel-still-schedules", sc0(SYS_sched_yield) == 0 && pid > 0 && sc0(SYS_getpid) == pid,
          "sched_yield or getpid failed");
    return 0;
}
