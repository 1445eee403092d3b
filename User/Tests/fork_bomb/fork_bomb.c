// User/Tests/fork_bomb: forking until the kernel refuses (issue [6],
// exhaustion). A "bomber" child forks children that stay alive (yielding
// until they are orphaned) until fork fails; the failure must be ENOMEM or
// EAGAIN, never a panic or a hang. The bomber then exits, its children see
// their parent change and exit too, and the system must still fork, run
// and reap a child. Frames back to baseline is checked at power-off.
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

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    if (!on_swiftkernel()) {
        check("fork-bomb-runs-on-swiftkernel-only", 1, "");
        return 0;
    }
    int status = run_child(bomber, 0);
    check("fork-bomb-refused-with-enomem-or-eagain",
          status_exited(status) && (status_code(status) == ENOMEM || status_code(status) == EAGAIN),
          "the bomber did not end with exit ENOMEM/EAGAIN");
    ct_puts("note: bomber ended with "); put_status(status); ct_puts("\n");
    // The orphans exit on their own; meanwhile the system must keep working.
    expect_status("fork-works-after-the-bomb", run_child(exit_five, 0), 0, 5);
    return 0;
}
