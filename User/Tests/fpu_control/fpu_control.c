// User/Tests/fpu_control: a task's x87 and SSE control state is its own
// (review finding 7). A child unmasks every SSE exception (MXCSR) and
// every x87 exception (FCW), leaves an x87 divide-by-zero pending, then
// makes syscalls and spins across timer ticks. The kernel must neither
// fault on that state (it loads its own defaults after saving the task's,
// Boot/fpu.inc) nor change it: MXCSR, FCW and the pending exception come
// back exactly. The next waiting x87 instruction then raises #MF in the
// task: SIGFPE, as on Linux.
#include "ctest.h"

enum { MXCSR_ALL_UNMASKED = 0x0000, FCW_ALL_UNMASKED = 0x0340 /* 64-bit precision, all unmasked */ };
enum { FSW_ZERO_DIVIDE = 1 << 2, FSW_ERROR_SUMMARY = 1 << 7 };
enum { SPIN_TICKS = 5, TICK_NS = 10000000 };
enum { PRESERVED = 0, MXCSR_CHANGED = 1, FCW_CHANGED = 2, PENDING_LOST = 3 };

static long now_ns(void) {
    long ts[2];
    sc6(SYS_clock_gettime, 1, (long)ts, 0, 0, 0, 0);
    return ts[0] * 1000000000L + ts[1];
}

// Unmasks everything, leaves a pending x87 #Z, runs syscalls and gets preempted.
static void hostile_fpu_state(void) {
    u32 mxcsr = MXCSR_ALL_UNMASKED;
    u16 fcw = FCW_ALL_UNMASKED;
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fninit\n fldcw %0\n fldz\n fld1\n fdivp" : : "m"(fcw));  // 1/0: #Z pending
    for (int i = 0; i < 200; i++) { sc0(SYS_getpid); sc0(SYS_sched_yield); }
    long start = now_ns();
    while (now_ns() - start < SPIN_TICKS * TICK_NS) { }
}

static void check_preserved(u64 then_wait) {
    hostile_fpu_state();
    u32 mxcsr = 0xffff; u16 fcw = 0, fsw = 0;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fcw));
    __asm__ volatile("fnstsw %0" : "=m"(fsw));
    if ((mxcsr & 0xffc0) != MXCSR_ALL_UNMASKED) sys_exit(MXCSR_CHANGED);
    if ((fcw & 0x0f3f) != (FCW_ALL_UNMASKED & 0x0f3f)) sys_exit(FCW_CHANGED);
    if (!(fsw & FSW_ZERO_DIVIDE) || !(fsw & FSW_ERROR_SUMMARY)) sys_exit(PENDING_LOST);
    if (then_wait) __asm__ volatile("fwait");   // the pending #Z is delivered here
    sys_exit(PRESERVED);
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    expect_status("unmasked-fpu-state-survives-syscalls-and-preemption", run_child(check_preserved, 0), 0, PRESERVED);
    expect_status("pending-x87-exception-is-sigfpe-in-the-task", run_child(check_preserved, 1), SIGFPE, 0);
    check("parent-survives", sc0(SYS_getpid) > 0, "getpid failed");
    return 0;
}
