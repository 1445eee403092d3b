// User/Tests/fork_bomb: forking until the kernel refuses (issue [6],
// exhaustion). A "bomber" child forks children that stay alive (yielding
// until they are orphaned) until fork fails; the failure must be ENOMEM or
// EAGAIN, never a panic or a hang. The bomber then exits, its children see
// their parent change and exit too, and the system must still fork, run
// and reap a child. Frames back to baseline is checked at power-off.
// A spinning sibling, started first, counts in shared memory: it must have
// made progress while the bomb ran (the timer kept scheduling, no fork
// kept the CPU), and after it.
// SwiftKernel only: natively, as root, no process limit would stop it on a
// shared host (RLIMIT_NPROC does not apply to root).
#include "ctest.h"

enum { EAGAIN = 11, ENOMEM = 12, MAX_FORKS = 20000 };

static void stay_until_orphaned(long parent) {
    while (sc0(SYS_getppid) == parent) sc0(SYS_sched_yield);
    sys_exit(0);
}

static void bomber(u64 unused) {
    (void)unused;
    long me = sc0(SYS_getpid);
    for (int i = 0; i < MAX_FORKS; i++) {
        long pid = sc0(SYS_fork);
        if (pid == 0) stay_until_orphaned(me);
        if (pid < 0) sys_exit((int)-pid);   // the errno, as the exit code
    }
    sys_exit(100);                          // never refused
}

static void exit_five(u64 unused) { (void)unused; sys_exit(5); }

static volatile u64 *shared;   // [0] the sibling's counter, [1] stop
static void spin(void) { while (!shared[1]) shared[0]++; sys_exit(0); }

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    if (!on_swiftkernel()) {
        check("fork-bomb-runs-on-swiftkernel-only", 1, "");
        return 0;
    }
    shared = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, 0x01 /* MAP_SHARED */ | MAP_ANONYMOUS);
    if (mmap_failed((void *)shared)) { check("setup", 0, "mmap failed"); return 0; }
    long sibling = sc0(SYS_fork);
    if (sibling == 0) spin();
    while (shared[0] == 0) sc0(SYS_sched_yield);
    u64 before = shared[0];
    int status = run_child(bomber, 0);
    u64 during = shared[0] - before;
    check("fork-bomb-refused-with-enomem-or-eagain",
          status_exited(status) && (status_code(status) == ENOMEM || status_code(status) == EAGAIN),
          "the bomber did not end with exit ENOMEM/EAGAIN");
    ct_puts("note: bomber ended with "); put_status(status); ct_puts("\n");
    // The orphans exit on their own; meanwhile the system must keep working.
    expect_status("fork-works-after-the-bomb", run_child(exit_five, 0), 0, 5);
    check("sibling-progressed-during-the-bomb", during > 0, "the spinning sibling never ran while forks were refused");
    u64 after = shared[0];
    for (int i = 0; i < 100000 && shared[0] == after; i++) sc0(SYS_sched_yield);
    check("sibling-progresses-after-the-bomb", shared[0] != after, "the spinning sibling stopped");
    ct_puts("note: the sibling counted "); ct_put_dec((long)during); ct_puts(" during the bomb\n");
    shared[1] = 1;
    int sibling_status = 0;
    sc6(SYS_wait4, sibling, (long)&sibling_status, 0, 0, 0, 0);
    expect_status("sibling-exits", sibling_status, 0, 0);
    return 0;
}
