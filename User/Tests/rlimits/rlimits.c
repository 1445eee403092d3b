// User/Tests/rlimits: getrlimit(97), setrlimit(160), prlimit64(302) and the
// memory limits they set (issue [5], "Limits"), with Linux's errnos:
// - round trips through all three calls, for every resource;
// - EINVAL (unknown resource, soft above hard), EFAULT (bad pointers, in
//   Linux's order: setrlimit and prlimit64 copy the new limit in before
//   anything else), ESRCH (no such pid), EPERM (RLIMIT_NOFILE above
//   fs.nr_open); raising a hard limit works with CAP_SYS_RESOURCE (every
//   task on SwiftKernel; natively as capget says), else EPERM;
// - RLIMIT_AS: exact, found by bisection (the largest PROT_NONE mapping
//   that fits), then one page more fails with ENOMEM, a MAP_FIXED
//   replacement still works, brk cannot grow;
// - RLIMIT_DATA: private writable mappings are capped exactly, read-only
//   and shared ones are not, mprotect to writable fails with ENOMEM,
//   brk cannot grow; a soft limit of 0 defers to the hard one (Linux's
//   Valgrind workaround);
// - fork inherits limits and their enforcement; prlimit64 changes a
//   running child's; execve keeps them;
// - every limit is back to its first value at the end.
// Only soft limits are lowered in this process, so it can always restore them.
#include "ctest.h"

enum { SYS_getrlimit = 97, SYS_capget = 125, SYS_setrlimit = 160, SYS_prlimit64 = 302 };
enum { CAPABILITY_VERSION_3 = 0x20080522, CAP_SYS_RESOURCE = 24 };
enum { RLIMIT_FSIZE = 1, RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_CORE = 4, RLIMIT_NOFILE = 7, RLIMIT_AS = 9, RLIM_NLIMITS = 16 };
enum { ESRCH = 3, ENOMEM = 12, EPERM = 1, MAP_SHARED = 0x01 };
#define RLIM_INFINITY (~0UL)
#define MIB (1UL << 20)

struct rlimit { u64 cur, max; };

static long getrl(long resource, void *limit) { return sc3(SYS_getrlimit, resource, (long)limit, 0); }
static long setrl(long resource, void *limit) { return sc3(SYS_setrlimit, resource, (long)limit, 0); }
static long prl(long pid, long resource, void *new_limit, void *old_limit) {
    return sc6(SYS_prlimit64, pid, resource, (long)new_limit, (long)old_limit, 0, 0);
}
static long brk_to(u64 address) { return sc1(SYS_brk, (long)address); }

static struct rlimit get(int resource) {
    struct rlimit r = {0, 0};
    getrl(resource, &r);
    return r;
}
static long set_soft(int resource, u64 cur) {
    struct rlimit r = get(resource);
    r.cur = cur;
    return setrl(resource, &r);
}

// The errno of a failed mmap, or 0 on success (the mapping is removed).
static long try_mmap(u64 length, int prot, int flags) {
    void *p = sys_mmap(0, length, prot, flags | MAP_ANONYMOUS);
    if (mmap_failed(p)) return (long)p;
    sc3(SYS_munmap, (long)p, (long)length, 0);
    return 0;
}

// The largest number of pages (below `limit`) that one mmap with `prot` can
// still get: the room left under the limit in force, exactly.
static u64 room(int prot, u64 limit) {
    u64 low = 0, high = limit;   // low fits, high does not
    if (try_mmap(high * PAGE_SIZE, prot, MAP_PRIVATE) == 0) return limit;
    while (high - low > 1) {
        u64 middle = (low + high) / 2;
        if (try_mmap(middle * PAGE_SIZE, prot, MAP_PRIVATE) == 0) low = middle; else high = middle;
    }
    return low;
}

// True if this process may raise hard limits: CAP_SYS_RESOURCE in its
// effective set (capget), or SwiftKernel, where every task has root's
// rights. Root in a container may well lack it.
static int may_raise_hard_limits(void) {
    if (on_swiftkernel()) return 1;
    struct { u32 version; int pid; } header = {CAPABILITY_VERSION_3, 0};
    struct { u32 effective, permitted, inheritable; } data[2] = {{0, 0, 0}, {0, 0, 0}};
    if (sc3(SYS_capget, (long)&header, (long)data, 0) != 0) return 0;
    return (data[0].effective >> CAP_SYS_RESOURCE) & 1;
}

// A resource whose hard limit leaves room to move (the runners may have
// set some to 0, as `ulimit -c 0` does with RLIMIT_CORE), or -1.
static int adjustable_resource(void) {
    static const int candidates[] = {RLIMIT_FSIZE, RLIMIT_STACK, RLIMIT_AS, RLIMIT_DATA, RLIMIT_CORE};
    for (u64 i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (get(candidates[i]).max >= 4 * MIB) return candidates[i];
    return -1;
}

// A soft limit for `resource` that is within its hard limit and differs
// from the current soft one.
static u64 other_soft_limit(int resource) {
    struct rlimit r = get(resource);
    u64 value = r.max == RLIM_INFINITY ? 3 * MIB : r.max / 2;
    return value == r.cur ? value / 2 : value;
}

// Exits 0 if lowering the hard limit of `resource` works, and raising it
// back works exactly when the process has CAP_SYS_RESOURCE (else EPERM).
static void child_hard_limit(u64 resource) {
    struct rlimit old = get((int)resource);
    struct rlimit lowered = {0, old.max == RLIM_INFINITY ? 1 * MIB : old.max / 2};
    if (setrl((long)resource, &lowered) != 0) sys_exit(2);
    if (get((int)resource).max != lowered.max) sys_exit(3);
    if (setrl((long)resource, &old) != (may_raise_hard_limits() ? 0 : -EPERM)) sys_exit(4);
}

static void round_trips(void) {
    int same = 1, ordered = 1;
    for (int resource = 0; resource < RLIM_NLIMITS; resource++) {
        struct rlimit a = {1, 1}, b = {2, 2};
        if (getrl(resource, &a) != 0 || prl(0, resource, 0, &b) != 0) same = 0;
        if (a.cur != b.cur || a.max != b.max) same = 0;
        if (a.cur > a.max && a.max != RLIM_INFINITY) ordered = 0;
    }
    check("getrlimit-equals-prlimit64-for-all-16", same, "getrlimit and prlimit64 disagree or failed");
    check("every-soft-limit-within-its-hard-limit", ordered, "a soft limit above its hard one");

    if (on_swiftkernel()) {
        // Linux's INIT_RLIMITS, as init_task has them.
        struct rlimit stack = get(RLIMIT_STACK), nofile = get(RLIMIT_NOFILE);
        struct rlimit as = get(RLIMIT_AS), data = get(RLIMIT_DATA), core = get(RLIMIT_CORE);
        check("defaults-are-linux-init-rlimits",
              stack.cur == 8 * MIB && stack.max == RLIM_INFINITY && nofile.cur == 1024 && nofile.max == 4096
              && as.cur == RLIM_INFINITY && as.max == RLIM_INFINITY && data.cur == RLIM_INFINITY
              && data.max == RLIM_INFINITY && core.cur == 0 && core.max == RLIM_INFINITY,
              "not _STK_LIM/inf, 1024/4096, inf, inf, 0/inf");
    }

    struct rlimit old = get(RLIMIT_STACK), want = {4 * MIB, old.max}, seen = {0, 0};
    check_equal("setrlimit-stack", setrl(RLIMIT_STACK, &want), 0);
    seen = get(RLIMIT_STACK);
    check("getrlimit-sees-setrlimit", seen.cur == 4 * MIB && seen.max == old.max, "not the value set");
    struct rlimit back = old, previous = {0, 0};
    check_equal("prlimit64-sets-and-returns-old", prl(0, RLIMIT_STACK, &back, &previous), 0);
    check("prlimit64-old-value", previous.cur == 4 * MIB && previous.max == old.max, "not the previous value");
    seen = get(RLIMIT_STACK);
    check("prlimit64-new-value", seen.cur == old.cur && seen.max == old.max, "not restored");
    long self = sc0(SYS_getpid);
    struct rlimit by_pid = {0, 0};
    check_equal("prlimit64-own-pid", prl(self, RLIMIT_STACK, 0, &by_pid), 0);
    check("prlimit64-own-pid-value", by_pid.cur == old.cur && by_pid.max == old.max, "differs from pid 0");
    check_equal("prlimit64-no-pointers", prl(0, RLIMIT_AS, 0, 0), 0);
    check_equal("setrlimit-infinity", setrl(RLIMIT_AS, &(struct rlimit){RLIM_INFINITY, RLIM_INFINITY}), 0);

    // The hard limit: lowering it is always allowed, raising it takes
    // CAP_SYS_RESOURCE. In a child, which cannot undo it without.
    int resource = adjustable_resource();
    check("a-resource-with-room", resource >= 0, "every hard limit below 4 MiB");
    if (resource >= 0) expect_status("lower-then-raise-hard-limit", run_child(child_hard_limit, (u64)resource), 0, 0);
}

static void errors(void) {
    struct rlimit r = {0, 0}, bad = {2 * MIB, 1 * MIB}, as = get(RLIMIT_AS);
    check_equal("getrlimit-resource-16-einval", getrl(RLIM_NLIMITS, &r), -EINVAL);
    check_equal("getrlimit-resource-minus-1-einval", getrl(-1, &r), -EINVAL);
    check_equal("getrlimit-resource-high-bits-ignored", getrl(0x100000000L | RLIMIT_AS, &r), 0);
    check_equal("getrlimit-null-efault", getrl(RLIMIT_AS, 0), -EFAULT);
    check_equal("getrlimit-einval-before-efault", getrl(RLIM_NLIMITS, 0), -EINVAL);
    check_equal("setrlimit-null-efault", setrl(RLIMIT_AS, 0), -EFAULT);
    check_equal("setrlimit-efault-before-einval", setrl(RLIM_NLIMITS, 0), -EFAULT);
    check_equal("setrlimit-resource-16-einval", setrl(RLIM_NLIMITS, &as), -EINVAL);
    check_equal("setrlimit-cur-above-max-einval", setrl(RLIMIT_AS, &bad), -EINVAL);
    struct rlimit nofile = get(RLIMIT_NOFILE), huge = {nofile.cur, RLIM_INFINITY};
    check_equal("setrlimit-nofile-above-nr-open-eperm", setrl(RLIMIT_NOFILE, &huge), -EPERM);
    struct rlimit after = get(RLIMIT_AS);
    check("failed-calls-change-nothing", after.cur == as.cur && after.max == as.max, "RLIMIT_AS changed");

    // A struct rlimit that runs into an unmapped page.
    char *page = sys_mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    sc3(SYS_munmap, (long)(page + PAGE_SIZE), PAGE_SIZE, 0);
    void *straddling = page + PAGE_SIZE - 8;
    check_equal("getrlimit-straddling-efault", getrl(RLIMIT_AS, straddling), -EFAULT);
    check_equal("setrlimit-straddling-efault", setrl(RLIMIT_AS, straddling), -EFAULT);
    sc3(SYS_munmap, (long)page, PAGE_SIZE, 0);

    long nobody = 0x7fffffff;
    check_equal("prlimit64-resource-16-einval", prl(0, RLIM_NLIMITS, 0, &r), -EINVAL);
    check_equal("prlimit64-no-such-pid-esrch", prl(nobody, RLIMIT_AS, 0, &r), -ESRCH);
    check_equal("prlimit64-negative-pid-esrch", prl(-1, RLIMIT_AS, 0, &r), -ESRCH);
    check_equal("prlimit64-esrch-before-einval", prl(nobody, RLIM_NLIMITS, 0, 0), -ESRCH);
    check_equal("prlimit64-bad-new-efault", prl(0, RLIMIT_AS, (void *)1, 0), -EFAULT);
    check_equal("prlimit64-efault-before-esrch", prl(nobody, RLIMIT_AS, (void *)1, 0), -EFAULT);
    check_equal("prlimit64-bad-old-efault", prl(0, RLIMIT_AS, 0, (void *)1), -EFAULT);
    check_equal("prlimit64-cur-above-max-einval", prl(0, RLIMIT_AS, &bad, &r), -EINVAL);
    // The old value's copy-out fails after the new limit took effect (Linux).
    struct rlimit stack = get(RLIMIT_STACK), lower = {1 * MIB, stack.max};
    check_equal("prlimit64-set-then-bad-old-efault", prl(0, RLIMIT_STACK, &lower, (void *)1), -EFAULT);
    check_equal("prlimit64-set-despite-efault", (long)get(RLIMIT_STACK).cur, 1 * MIB);
    setrl(RLIMIT_STACK, &stack);
}

static void address_space_limit(void) {
    const u64 limit_pages = (64 * MIB) / PAGE_SIZE, initial = get(RLIMIT_AS).cur;
    check_equal("as-set-64-mib", set_soft(RLIMIT_AS, 64 * MIB), 0);
    check_equal("as-mmap-128-mib-enomem", try_mmap(128 * MIB, PROT_NONE, MAP_PRIVATE), -ENOMEM);
    u64 free_pages = room(PROT_NONE, limit_pages);
    check("as-some-room-left", free_pages > 0 && free_pages < limit_pages, "no room, or no limit");
    char *a = sys_mmap(0, free_pages * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    check("as-mmap-exactly-the-room", !mmap_failed(a), "the room found does not fit");
    if (mmap_failed(a)) return;
    check_equal("as-one-page-more-enomem", try_mmap(PAGE_SIZE, PROT_READ, MAP_PRIVATE), -ENOMEM);
    check_equal("as-shared-one-page-more-enomem", try_mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED), -ENOMEM);
    void *fixed = sys_mmap(a, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    check("as-map-fixed-replacing-fits", fixed == a, "MAP_FIXED over own pages refused");
    u64 start = (u64)brk_to(0);
    check_equal("as-brk-cannot-grow", brk_to(start + PAGE_SIZE), (long)start);
    sc3(SYS_munmap, (long)(a + (free_pages - 1) * PAGE_SIZE), PAGE_SIZE, 0);
    check_equal("as-brk-grows-into-freed-page", brk_to(start + PAGE_SIZE), (long)(start + PAGE_SIZE));
    check_equal("as-then-full-again", try_mmap(PAGE_SIZE, PROT_READ, MAP_PRIVATE), -ENOMEM);
    brk_to(start);
    check_equal("as-page-freed-by-brk-fits", try_mmap(PAGE_SIZE, PROT_READ, MAP_PRIVATE), 0);
    sc3(SYS_munmap, (long)a, (long)((free_pages - 1) * PAGE_SIZE), 0);
    check_equal("as-restore", set_soft(RLIMIT_AS, initial), 0);
    check_equal("as-mmap-128-mib-after-restore", try_mmap(128 * MIB, PROT_NONE, MAP_PRIVATE), 0);
}

static void data_limit(void) {
    const u64 limit_pages = (16 * MIB) / PAGE_SIZE, initial = get(RLIMIT_DATA).cur;
    check_equal("data-set-16-mib", set_soft(RLIMIT_DATA, 16 * MIB), 0);
    check_equal("data-private-rw-32-mib-enomem", try_mmap(32 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE), -ENOMEM);
    check_equal("data-private-read-only-32-mib-fits", try_mmap(32 * MIB, PROT_READ, MAP_PRIVATE), 0);
    check_equal("data-shared-rw-32-mib-fits", try_mmap(32 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED), 0);
    char *ro = sys_mmap(0, 32 * MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    check("data-read-only-mapping", !mmap_failed(ro), "refused");
    if (mmap_failed(ro)) return;
    check_equal("data-mprotect-to-writable-enomem", sc3(SYS_mprotect, (long)ro, 32 * MIB, PROT_READ | PROT_WRITE),
                -ENOMEM);
    check_equal("data-read-after-refused-mprotect", ro[4096], 0);
    check_equal("data-mprotect-to-exec-fits", sc3(SYS_mprotect, (long)ro, 32 * MIB, PROT_READ | PROT_EXEC), 0);

    u64 free_pages = room(PROT_READ | PROT_WRITE, limit_pages);
    check("data-some-room-left", free_pages > 0 && free_pages < limit_pages, "no room, or no limit");
    char *rw = sys_mmap(0, free_pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    check("data-mmap-exactly-the-room", !mmap_failed(rw), "the room found does not fit");
    if (mmap_failed(rw)) return;
    check_equal("data-one-rw-page-more-enomem", try_mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE), -ENOMEM);
    check_equal("data-one-read-only-page-fits", try_mmap(PAGE_SIZE, PROT_READ, MAP_PRIVATE), 0);
    check_equal("data-one-page-mprotect-enomem", sc3(SYS_mprotect, (long)ro, PAGE_SIZE, PROT_READ | PROT_WRITE),
                -ENOMEM);
    u64 start = (u64)brk_to(0);
    check_equal("data-brk-cannot-grow", brk_to(start + PAGE_SIZE), (long)start);
    check_equal("data-mprotect-rw-to-read-only", sc3(SYS_mprotect, (long)rw, PAGE_SIZE, PROT_READ), 0);
    check_equal("data-freed-page-mprotect-fits", sc3(SYS_mprotect, (long)ro, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
    ro[0] = 1;
    check_equal("data-written-after-mprotect", ro[0], 1);
    sc3(SYS_munmap, (long)rw, (long)(free_pages * PAGE_SIZE), 0);
    check_equal("data-brk-grows-after-munmap", brk_to(start + PAGE_SIZE), (long)(start + PAGE_SIZE));
    brk_to(start);
    check_equal("data-brk-past-the-limit-refused", brk_to(start + 32 * MIB), (long)start);
    sc3(SYS_munmap, (long)ro, 32 * MIB, 0);

    // "Workaround for Valgrind": a soft limit of 0 means the hard one.
    check_equal("data-soft-zero", set_soft(RLIMIT_DATA, 0), 0);
    check_equal("data-soft-zero-defers-to-hard", try_mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE), 0);
    check_equal("data-restore", set_soft(RLIMIT_DATA, initial), 0);
}

// Children report through their exit status (they never print).
static void child_inherits(u64 limit) {
    struct rlimit r = get(RLIMIT_DATA);
    if (r.cur != limit) sys_exit(2);
    if (try_mmap(2 * limit, PROT_READ | PROT_WRITE, MAP_PRIVATE) != -ENOMEM) sys_exit(3);
    if (try_mmap(limit / 2, PROT_READ | PROT_WRITE, MAP_PRIVATE) != 0) sys_exit(4);
}

enum { CHILD_WAIT_ROUNDS = 2000000 };

// Waits (yielding) until the parent sets the soft limit of `resource` to `value`.
static void child_waits_for(int resource, u64 value) {
    for (long i = 0; i < CHILD_WAIT_ROUNDS; i++) {
        if (get(resource).cur == value) sys_exit(0);
        sc0(SYS_sched_yield);
    }
    sys_exit(5);
}

// prlimit64 on a running child: it sees its parent's limit, then the new one.
static void prlimit_on_a_child(void) {
    int resource = adjustable_resource();
    if (resource < 0) return;
    u64 value = other_soft_limit(resource);
    long pid = sc0(SYS_fork);
    if (pid == 0) child_waits_for(resource, value);
    struct rlimit mine = get(resource), childs = {1, 1};
    check_equal("prlimit64-child-read", prl(pid, resource, 0, &childs), 0);
    check("prlimit64-child-inherited", childs.cur == mine.cur && childs.max == mine.max, "not the parent's");
    struct rlimit changed = {value, mine.max};
    check_equal("prlimit64-child-set", prl(pid, resource, &changed, 0), 0);
    int status = 0;
    sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
    expect_status("prlimit64-child-sees-it", status, 0, 0);
    struct rlimit after = get(resource);
    check("prlimit64-child-parent-unchanged", after.cur == mine.cur, "the parent's changed");
}

static void inheritance(char *self) {
    u64 initial = get(RLIMIT_DATA).cur;
    check_equal("fork-data-set-16-mib", set_soft(RLIMIT_DATA, 16 * MIB), 0);
    expect_status("fork-child-inherits-and-enforces", run_child(child_inherits, 16 * MIB), 0, 0);

    long pid = sc0(SYS_fork);
    if (pid == 0) {
        char *argv[] = {self, "exec-check", 0};
        char *envp[] = {0};
        sc3(SYS_execve, (long)self, (long)argv, (long)envp);
        sys_exit(9);
    }
    int status = 0;
    sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
    expect_status("execve-keeps-limits", status, 0, 0);
    check_equal("fork-data-restore", set_soft(RLIMIT_DATA, initial), 0);
}

int test_main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == 'e') {   // exec-check: run by inheritance()
        child_inherits(16 * MIB);
        sys_exit(0);
    }
    struct rlimit first[RLIM_NLIMITS];
    for (int resource = 0; resource < RLIM_NLIMITS; resource++) first[resource] = get(resource);
    round_trips();
    errors();
    address_space_limit();
    data_limit();
    inheritance(argv[0]);
    prlimit_on_a_child();
    int same = 1;
    for (int resource = 0; resource < RLIM_NLIMITS; resource++) {
        struct rlimit now = get(resource);
        if (now.cur != first[resource].cur || now.max != first[resource].max) same = 0;
    }
    check("limits-restored", same, "a limit differs from its first value");
    return 0;
}
