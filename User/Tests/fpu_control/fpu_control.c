// User/Tests/fpu_control: a task's x87 and SSE state is its own.
//
// 1. (review finding 7) A child unmasks every SSE exception (MXCSR) and
//    every x87 exception (FCW), leaves an x87 divide-by-zero pending, then
//    makes syscalls and spins across timer ticks. The kernel must neither
//    fault on that state (it executes no FP instruction, Boot/fpu.inc)
//    nor change it: MXCSR, FCW and the pending exception come back
//    exactly. The next waiting x87 instruction then raises #MF in the
//    task: SIGFPE, as on Linux.
// 2. Two children at once, each with its own XMM0-15, MXCSR, FCW and two
//    x87 registers, make syscalls (sched_yield switches straight to the
//    other) and spin across many timer ticks: nothing may change, whoever
//    owns the registers in between (lazy switching, Boot/fpu.asm).
// 3. fork copies the parent's live MXCSR and FCW (Linux fpu_clone).
// execve's fresh state (MXCSR 0x1f80, FCW 0x37f, XMM zero, also after the
// caller changed them) is User/Tests/info_leaks' "execve-resets-...".
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

// ---- 2. Two tasks hold distinct registers ----------------------------------------
// The state one child loads and expects back (offsets fixed for the asm).
struct fpu_image {
    u64 xmm[32];        // XMM0-15, low then high half
    u32 mxcsr;          // 256
    u16 fcw;            // 260
    u16 padding;
    u64 st[2];          // 264: the double pushed first (ST1), 272: the last (ST0)
};
_Static_assert(__builtin_offsetof(struct fpu_image, mxcsr) == 256, "asm offsets");
_Static_assert(__builtin_offsetof(struct fpu_image, st) == 264, "asm offsets");

// Rounds of two syscalls and a spin: ~2 ms each natively, tens of timer
// ticks in all under QEMU TCG.
enum { HOLD_ROUNDS = 40, HOLD_SPIN = 2000000 };
enum { HELD = 0, XMM_CHANGED = 4, HELD_MXCSR_CHANGED = 5, HELD_FCW_CHANGED = 6, X87_CHANGED = 7 };
// Control words the children use: every exception masked, distinct rounding
// (and x87 precision) modes, and MXCSR's FTZ and DAZ for the second.
static const u32 held_mxcsr[2] = {0x3f80 /* round down */, 0x9fc0 /* FTZ, DAZ */};
static const u16 held_fcw[2] = {0x027f /* 53-bit */, 0x0c7f /* truncate, 24-bit */};
enum { MXCSR_CONTROL_BITS = 0xffc0, FCW_CONTROL_BITS = 0x0f3f };

// Loads `in` into the registers, runs the rounds without touching them,
// stores them into `out`. All in one asm block: no compiled code between.
static void hold_registers(const struct fpu_image *in, struct fpu_image *out) {
    __asm__ volatile(".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
                     "    movdqu 16*\\n(%[in]), %%xmm\\n\n"
                     ".endr\n"
                     "    ldmxcsr 256(%[in])\n    fninit\n    fldcw 260(%[in])\n"
                     "    fldl 264(%[in])\n    fldl 272(%[in])\n"
                     "    mov %[rounds], %%r8d\n"
                     "1:  mov %[getpid], %%eax\n    syscall\n"
                     "    mov %[yield], %%eax\n    syscall\n"
                     "    mov %[spin], %%r9d\n"
                     "2:  dec %%r9d\n    jnz 2b\n"
                     "    dec %%r8d\n    jnz 1b\n"
                     ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
                     "    movdqu %%xmm\\n, 16*\\n(%[out])\n"
                     ".endr\n"
                     "    stmxcsr 256(%[out])\n    fnstcw 260(%[out])\n"
                     "    fstpl 272(%[out])\n    fstpl 264(%[out])\n"
                     :
                     : [in] "r"(in), [out] "r"(out), [rounds] "i"(HOLD_ROUNDS), [spin] "i"(HOLD_SPIN),
                       [getpid] "i"(SYS_getpid), [yield] "i"(SYS_sched_yield)
                     : "rax", "rcx", "r11", "r8", "r9", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
                       "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

// Child `which` (0 or 1): its own patterns, exit HELD only if all came back.
static void hold_distinct_state(u64 which) {
    static struct fpu_image in, out;
    for (int i = 0; i < 32; i++) in.xmm[i] = (which + 1) << 56 | (u64)i << 8 | 0xa5;
    in.mxcsr = held_mxcsr[which];
    in.fcw = held_fcw[which];
    in.st[0] = which ? 0xc00a000000000000UL /* -3.25 */ : 0x3ff8000000000000UL /* 1.5 */;
    in.st[1] = which ? 0x4016000000000000UL /* 5.5 */ : 0xbfe0000000000000UL /* -0.5 */;
    hold_registers(&in, &out);
    for (int i = 0; i < 32; i++) if (out.xmm[i] != in.xmm[i]) sys_exit(XMM_CHANGED);
    if ((out.mxcsr & MXCSR_CONTROL_BITS) != in.mxcsr) sys_exit(HELD_MXCSR_CHANGED);
    if ((out.fcw & FCW_CONTROL_BITS) != (in.fcw & FCW_CONTROL_BITS)) sys_exit(HELD_FCW_CHANGED);
    if (out.st[0] != in.st[0] || out.st[1] != in.st[1]) sys_exit(X87_CHANGED);
    sys_exit(HELD);
}

// Forks both children so that they run at the same time, then reaps them.
static void check_two_tasks_hold_their_state(void) {
    long pids[2];
    for (u64 which = 0; which < 2; which++) {
        pids[which] = sc0(SYS_fork);
        if (pids[which] == 0) hold_distinct_state(which);
    }
    for (int which = 0; which < 2; which++) {
        int status = -1;
        if (pids[which] < 0 || sc6(SYS_wait4, pids[which], (long)&status, 0, 0, 0, 0) != pids[which]) {
            check(which ? "second-task-holds-its-fpu-state" : "first-task-holds-its-fpu-state", 0, "fork or wait4 failed");
            continue;
        }
        expect_status(which ? "second-task-holds-its-fpu-state" : "first-task-holds-its-fpu-state", status, 0, HELD);
    }
}

// ---- 3. fork copies the live state -------------------------------------------------
enum { INHERITED = 0, NOT_INHERITED = 8 };
static const u32 fork_mxcsr = 0x5f80;   // round up
static const u16 fork_fcw = 0x087f;     // round up, 24-bit

// In the child: the control words the parent had loaded when it forked.
static void check_inherited(u64 unused) {
    (void)unused;
    u32 mxcsr = 0; u16 fcw = 0;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fcw));
    sys_exit((mxcsr & MXCSR_CONTROL_BITS) == fork_mxcsr && (fcw & FCW_CONTROL_BITS) == (fork_fcw & FCW_CONTROL_BITS)
                 ? INHERITED : NOT_INHERITED);
}

// Loads the odd control words, forks, then puts the defaults back.
static int fork_with_odd_control_words(void) {
    static const u32 default_mxcsr = 0x1f80;
    static const u16 default_fcw = 0x037f;
    __asm__ volatile("ldmxcsr %0\n fldcw %1" : : "m"(fork_mxcsr), "m"(fork_fcw));
    int status = run_child(check_inherited, 0);
    __asm__ volatile("ldmxcsr %0\n fldcw %1" : : "m"(default_mxcsr), "m"(default_fcw));
    return status;
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    expect_status("unmasked-fpu-state-survives-syscalls-and-preemption", run_child(check_preserved, 0), 0, PRESERVED);
    expect_status("pending-x87-exception-is-sigfpe-in-the-task", run_child(check_preserved, 1), SIGFPE, 0);
    check_two_tasks_hold_their_state();
    expect_status("fork-copies-the-live-control-words", fork_with_odd_control_words(), 0, INHERITED);
    check("parent-survives", sc0(SYS_getpid) > 0, "getpid failed");
    return 0;
}
