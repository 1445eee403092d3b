// User/Tests/info_leaks: nothing of the kernel reaches user space through
// registers, segment state or syscall results (issue [6], "No kernel
// address is visible to user space through any syscall result"), and no
// task's segment state reaches another.
//
//   - entry: at _start after execve every general register but RSP is 0,
//     RFLAGS is 0x202, DS, ES, FS, GS are null (Linux start_thread,
//     ELF_PLAT_INIT), XMM0-15 zero, MXCSR 0x1f80 and the x87 control word
//     0x37f (fpstate_init), also when the caller of execve had changed
//     all of them;
//   - syscalls: every register but RAX, RCX and R11 comes back unchanged,
//     RCX is the address after `syscall` and R11 the RFLAGS before it
//     (SYSCALL/SYSRET, as Linux returns them), XMM0-15 unchanged; for
//     successful, failing, unknown, yielding and blocking (wait4)
//     syscalls;
//   - preemption: registers and XMM registers survive timer interrupts;
//   - segments: DS/ES/FS/GS loaded by one task stay its own across
//     preemption, are inherited by fork (Linux copy_thread), and never
//     appear in another task;
//   - results: uname's buffer is fully written (zero padding) and nothing
//     past it; clock_gettime's timespec is sane; no word of wait4's rusage,
//     getdents64's records or the auxv looks like a kernel address.
// A kernel address: at or above 0xffff_8000_0000_0000 (both kernels'
// upper half), and on SwiftKernel also [0x7f80_0000_0000, 2^47), where
// its image, heap and kernel stacks live (user space on Linux).
#include "ctest.h"

enum { SYS_exit_code_ok = 42 };
#define ENTRY_FLAG "--entry-report"

static int swift;

static int looks_like_kernel(u64 v) {
    if (v >= 0xffff800000000000UL) return 1;
    return swift && v >= 0x00007f8000000000UL && v < 0x0000800000000000UL;
}

static int any_kernel_word(const u8 *p, u64 bytes) {
    for (u64 i = 0; i + 8 <= bytes; i += 8) {
        u64 v = 0;
        for (int j = 0; j < 8; j++) v |= (u64)p[i + j] << (8 * j);
        if (looks_like_kernel(v)) return 1;
    }
    return 0;
}

static u16 read_ds(void) { u16 v; __asm__ volatile("mov %%ds, %0" : "=r"(v)); return v; }
static u16 read_es(void) { u16 v; __asm__ volatile("mov %%es, %0" : "=r"(v)); return v; }
static u16 read_fs(void) { u16 v; __asm__ volatile("mov %%fs, %0" : "=r"(v)); return v; }
static u16 read_gs(void) { u16 v; __asm__ volatile("mov %%gs, %0" : "=r"(v)); return v; }
static u16 read_ss(void) { u16 v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }
// The user data selector of either kernel (SS's): loadable in DS/ES/FS/GS.
static void load_data_segments(u16 s) {
    __asm__ volatile("mov %0, %%ds\n mov %0, %%es\n mov %0, %%fs\n mov %0, %%gs" : : "r"(s));
}
static int segments_are(u16 s) { return read_ds() == s && read_es() == s && read_fs() == s && read_gs() == s; }

// ---- Entry state ----------------------------------------------------------------
// Bit i of the result: register i (CT_* order) is wrong.
static u64 entry_faults(void) {
    u64 faults = 0;
    for (int i = 0; i < CT_ENTRY_COUNT; i++) {
        u64 want = i == CT_RFLAGS ? 0x202 : 0;
        if (i == CT_RSP) continue;
        if (ct_entry_registers[i] != want) faults |= 1UL << i;
    }
    return faults;
}

// Linux's initial FPU state (fpstate_init): XMM all zero, MXCSR 0x1f80,
// x87 control word 0x37f.
static int entry_vectors_clean(void) {
    for (int i = 0; i < 16; i++) if (ct_entry_vectors[i] != 0) return 0;
    return ct_entry_vectors[CT_MXCSR] == 0x1f80 && (ct_entry_vectors[CT_FPU_CONTROL] & 0xffff) == 0x37f;
}

static void put_entry_faults(u64 faults) {
    static const char *const names[CT_ENTRY_COUNT] = {
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
        "r15", "rflags", "ds", "es", "fs", "gs"};
    for (int i = 0; i < CT_ENTRY_COUNT; i++)
        if (faults >> i & 1) { ct_puts(names[i]); ct_puts("="); ct_put_hex(ct_entry_registers[i]); ct_puts(" "); }
}

static char self_path_buffer[256];
static const char *self_path;

// Loads the user data selector into DS/ES/FS/GS, patterns into XMM0-15,
// odd MXCSR (FTZ, DAZ) and x87 control (53-bit precision) values, then
// execs this program as the entry reporter: the new program must start
// with none of it.
static void exec_with_segments_loaded(u64 unused) {
    (void)unused;
    const char *argv[] = {"info_leaks", ENTRY_FLAG, 0};
    const char *envp[] = {0};
    static const u64 pattern = 0xdeadbeefcafef00dUL;
    static const u32 mxcsr = 0x9fc0;
    static const u16 fpu_control = 0x27f;
    load_data_segments(read_ss());
    long r;
    __asm__ volatile(".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
                     "    movq %[pattern], %%xmm\\n\n"
                     ".endr\n"
                     "    ldmxcsr %[mxcsr]\n    fldcw %[fpu_control]\n"
                     "    syscall"
                     : "=a"(r)
                     : "a"(SYS_execve), "D"(self_path), "S"(argv), "d"(envp), [pattern] "m"(pattern),
                       [mxcsr] "m"(mxcsr), [fpu_control] "m"(fpu_control)
                     : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    (void)r;
    sys_exit(3);
}

// ---- Syscall register probe ------------------------------------------------------
// probe_syscall(in, out): loads every general register but RSP from in[]
// (CT_* order; RAX is the number), XMM0-15 from xmm_in, executes `syscall`,
// then stores every register into out[] and XMM0-15 into xmm_out.
// probe_flags gets RFLAGS just before the syscall, probe_return_address
// the address after it.
u64 probe_flags, probe_out_pointer, probe_rsp, probe_scratch;
u64 xmm_in[16], xmm_out[16];
extern char probe_return_address[];
void probe_syscall(const u64 *in, u64 *out);
__asm__(".text\n.globl probe_syscall\nprobe_syscall:\n"
        "    push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "    mov %rsi, probe_out_pointer(%rip)\n"
        "    mov %rsp, probe_rsp(%rip)\n"
        ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "    movq xmm_in+8*\\n(%rip), %xmm\\n\n"
        ".endr\n"
        "    mov 8(%rdi), %rbx\n mov 16(%rdi), %rcx\n mov 24(%rdi), %rdx\n mov 32(%rdi), %rsi\n"
        "    mov 48(%rdi), %rbp\n mov 64(%rdi), %r8\n mov 72(%rdi), %r9\n mov 80(%rdi), %r10\n"
        "    mov 88(%rdi), %r11\n mov 96(%rdi), %r12\n mov 104(%rdi), %r13\n mov 112(%rdi), %r14\n"
        "    mov 120(%rdi), %r15\n mov 0(%rdi), %rax\n"
        "    pushfq\n popq probe_flags(%rip)\n"
        "    mov 40(%rdi), %rdi\n"
        "    syscall\n"
        "probe_return_address:\n"
        "    mov %rax, probe_scratch(%rip)\n"
        "    mov probe_out_pointer(%rip), %rax\n"
        "    mov %rbx, 8(%rax)\n mov %rcx, 16(%rax)\n mov %rdx, 24(%rax)\n mov %rsi, 32(%rax)\n"
        "    mov %rdi, 40(%rax)\n mov %rbp, 48(%rax)\n mov %rsp, 56(%rax)\n mov %r8, 64(%rax)\n"
        "    mov %r9, 72(%rax)\n mov %r10, 80(%rax)\n mov %r11, 88(%rax)\n mov %r12, 96(%rax)\n"
        "    mov %r13, 104(%rax)\n mov %r14, 112(%rax)\n mov %r15, 120(%rax)\n"
        "    mov probe_scratch(%rip), %rbx\n mov %rbx, 0(%rax)\n"
        ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "    movq %xmm\\n, xmm_out+8*\\n(%rip)\n"
        ".endr\n"
        "    mov probe_rsp(%rip), %rsp\n"
        "    pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "    ret\n");

static const char *const register_names[16] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

// Runs syscall `number` with `args` (rdi rsi rdx r10 r8 r9) and patterns in
// every other register; checks the registers after it. Returns RAX.
static long probe(const char *name, long number, const long args[6]) {
    u64 in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = 0x5a5a000000000000UL | (u64)i << 32 | 0xc0de;
    for (int i = 0; i < 16; i++) xmm_in[i] = 0x3c3c000000000000UL | (u64)i << 40 | 0xfeed;
    in[CT_RAX] = (u64)number;
    in[CT_RDI] = (u64)args[0]; in[CT_RSI] = (u64)args[1]; in[CT_RDX] = (u64)args[2];
    in[CT_R10] = (u64)args[3]; in[CT_R8] = (u64)args[4]; in[CT_R9] = (u64)args[5];
    probe_syscall(in, out);
    int ok = 1;
    for (int i = 0; i < 16; i++) {
        u64 want = in[i];
        if (i == CT_RAX || i == CT_RSP) continue;
        if (i == CT_RCX) want = (u64)probe_return_address;
        if (i == CT_R11) want = probe_flags;
        if (out[i] != want) {
            if (ok) { fail_begin(name); ok = 0; }
            ct_puts(register_names[i]); ct_puts("="); ct_put_hex(out[i]); ct_puts(" (want "); ct_put_hex(want); ct_puts(") ");
        }
    }
    for (int i = 0; i < 16; i++)
        if (xmm_out[i] != xmm_in[i]) {
            if (ok) { fail_begin(name); ok = 0; }
            ct_puts("xmm"); ct_put_dec(i); ct_puts("="); ct_put_hex(xmm_out[i]); ct_puts(" ");
        }
    if (looks_like_kernel(out[CT_RAX]) && out[CT_RAX] < (u64)-4095) {   // -errno is fine
        if (ok) { fail_begin(name); ok = 0; }
        ct_puts("rax="); ct_put_hex(out[CT_RAX]);
    }
    if (ok) pass(name); else ct_puts("\n");
    return (long)out[CT_RAX];
}

static void exit_after_yields(u64 unused) { (void)unused; for (int i = 0; i < 20; i++) sc0(SYS_sched_yield); sys_exit(5); }

static void syscall_cases(void) {
    long ts[2], none[6] = {0};
    static char uts[6 * 65];
    long getpid_args[6] = {0};
    probe("registers-after-getpid", SYS_getpid, getpid_args);
    probe("registers-after-sched_yield", SYS_sched_yield, none);
    long unknown_args[6] = {1, 2, 3, 4, 5, 6};
    check_equal("unknown-syscall-enosys", probe("registers-after-unknown-syscall", 500, unknown_args), -ENOSYS);
    long bad_fd[6] = {1000, 0, 0, 0, 0, 0};
    probe("registers-after-failing-write", SYS_write, bad_fd);
    long clock_args[6] = {1 /* CLOCK_MONOTONIC */, (long)ts, 0, 0, 0, 0};
    probe("registers-after-clock_gettime", SYS_clock_gettime, clock_args);
    long uname_args[6] = {(long)uts, 0, 0, 0, 0, 0};
    probe("registers-after-uname", SYS_uname, uname_args);
    long mmap_args[6] = {0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0};
    long p = probe("registers-after-mmap", SYS_mmap, mmap_args);
    long munmap_args[6] = {p, PAGE_SIZE, 0, 0, 0, 0};
    probe("registers-after-munmap", SYS_munmap, munmap_args);
    // wait4 blocks (the child yields first), and SwiftKernel re-executes it when woken.
    long pid = sc0(SYS_fork);
    if (pid == 0) exit_after_yields(0);
    long wait_args[6] = {pid, 0, 0, 0, 0, 0};
    check_equal("blocking-wait4-returns-the-pid", probe("registers-after-blocking-wait4", SYS_wait4, wait_args), pid);
}

// ---- Preemption ----------------------------------------------------------------------
// Patterns in every register but RSP and a loop counter (RCX) across many
// timer ticks; out[] gets them afterwards.
u64 spin_out[16], spin_xmm_out[16];
void spin_with_patterns(u64 iterations);
__asm__(".text\n.globl spin_with_patterns\nspin_with_patterns:\n"
        "    push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "    mov %rdi, %rcx\n"
        ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "    mov $(0x7171000000000000 + \\n * 0x100000000 + 0xbeef), %rax\n movq %rax, %xmm\\n\n"
        ".endr\n"
        "    mov $0x6161000000000000, %rax\n"
        "    mov $0x6161000100000000, %rbx\n mov $0x6161000300000000, %rdx\n mov $0x6161000400000000, %rsi\n"
        "    mov $0x6161000500000000, %rdi\n mov $0x6161000600000000, %rbp\n mov $0x6161000800000000, %r8\n"
        "    mov $0x6161000900000000, %r9\n mov $0x6161000a00000000, %r10\n mov $0x6161000b00000000, %r11\n"
        "    mov $0x6161000c00000000, %r12\n mov $0x6161000d00000000, %r13\n mov $0x6161000e00000000, %r14\n"
        "    mov $0x6161000f00000000, %r15\n"
        "1:  dec %rcx\n jnz 1b\n"
        "    mov %rax, spin_out+0(%rip)\n mov %rbx, spin_out+8(%rip)\n mov %rcx, spin_out+16(%rip)\n"
        "    mov %rdx, spin_out+24(%rip)\n mov %rsi, spin_out+32(%rip)\n mov %rdi, spin_out+40(%rip)\n"
        "    mov %rbp, spin_out+48(%rip)\n mov %r8, spin_out+64(%rip)\n mov %r9, spin_out+72(%rip)\n"
        "    mov %r10, spin_out+80(%rip)\n mov %r11, spin_out+88(%rip)\n mov %r12, spin_out+96(%rip)\n"
        "    mov %r13, spin_out+104(%rip)\n mov %r14, spin_out+112(%rip)\n mov %r15, spin_out+120(%rip)\n"
        ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "    movq %xmm\\n, spin_xmm_out+8*\\n(%rip)\n"
        ".endr\n"
        "    pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "    ret\n");

static void preemption_case(void) {
    // A sibling that competes for the CPU, so the spin is preempted (one CPU in QEMU).
    long pid = sc0(SYS_fork);
    if (pid == 0) { for (int i = 0; i < 200; i++) sc0(SYS_sched_yield); sys_exit(0); }
    spin_with_patterns(50UL * 1000 * 1000);
    int ok = 1;
    for (int i = 0; i < 16; i++) {
        if (i == CT_RSP || i == CT_RCX) continue;
        if (spin_out[i] != (0x6161000000000000UL | (u64)i << 32)) ok = 0;
    }
    for (int i = 0; i < 16; i++) if (spin_xmm_out[i] != (0x7171000000000000UL + (u64)i * 0x100000000UL + 0xbeef)) ok = 0;
    check("registers-survive-preemption", ok, "a register changed across interrupts");
    int status;
    sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
}

// ---- Segments between tasks -------------------------------------------------------------
static volatile u64 *shared;   // [0] holder ready, [1] observer done, [2] holder's verdict, [3] observer's

// Holds the user data selector in DS/ES/FS/GS and spins (preempted, yielding)
// until the observer is done; they must stay loaded.
static void segment_holder(u64 selector) {
    load_data_segments((u16)selector);
    shared[0] = 1;
    u64 spins = 0;
    while (!shared[1] && spins < 2000000) { spins++; if ((spins & 1023) == 0) sc0(SYS_sched_yield); }
    int ok = segments_are((u16)selector);
    load_data_segments(0);
    shared[2] = ok ? 1 : 2;
    sys_exit(0);
}
// Runs while the holder holds them: its own must stay null.
static void segment_observer(u64 unused) {
    (void)unused;
    int ok = 1;
    for (int i = 0; i < 200 && !shared[0]; i++) sc0(SYS_sched_yield);
    for (int i = 0; i < 100; i++) { sc0(SYS_sched_yield); if (!segments_are(0)) ok = 0; }
    for (volatile int i = 0; i < 3000000; i++) if ((i & 0xffff) == 0 && !segments_are(0)) ok = 0;
    shared[3] = ok ? 1 : 2;
    shared[1] = 1;
    sys_exit(0);
}

// fork inherits DS/ES/FS/GS (Linux copy_thread saves them into the child).
static void fork_inherits(u64 selector) {
    load_data_segments((u16)selector);
    long pid = sc0(SYS_fork);
    if (pid == 0) sys_exit(segments_are((u16)selector) ? 0 : 1);
    int status = 0;
    sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
    load_data_segments(0);
    sys_exit(status_exited(status) ? status_code(status) : 2);
}

static void segment_cases(void) {
    u16 data = read_ss();
    check("segments-null-at-entry", segments_are(0), "DS/ES/FS/GS not null at _start");
    expect_status("fork-inherits-segments", run_child(fork_inherits, data), 0, 0);
    shared[0] = shared[1] = shared[2] = shared[3] = 0;
    long holder = sc0(SYS_fork);
    if (holder == 0) segment_holder(data);
    long observer = sc0(SYS_fork);
    if (observer == 0) segment_observer(0);
    int status;
    sc6(SYS_wait4, holder, (long)&status, 0, 0, 0, 0);
    sc6(SYS_wait4, observer, (long)&status, 0, 0, 0, 0);
    check("segments-stay-with-their-task", shared[2] == 1, "the holder lost its selectors");
    check("segments-do-not-leak-to-another-task", shared[3] == 1, "the observer saw the holder's selectors");
    int exec_status = run_child(exec_with_segments_loaded, 0);
    if (exec_status != -1 && !(status_exited(exec_status) && status_code(exec_status) == SYS_exit_code_ok)) {
        fail_begin("execve-resets-registers-and-segments");
        ct_puts("the new program saw ");
        put_status(exec_status);
        ct_puts(" (exit 42 is a clean start; exit 1 + N: register N in CT_* order was wrong; 30: XMM, MXCSR or the x87 control word)\n");
    } else if (exec_status != -1) pass("execve-resets-registers-and-segments");
}

// ---- Results ------------------------------------------------------------------------------
static void result_cases(char **envp) {
    static u8 uts[6 * 65 + 16];
    for (u64 i = 0; i < sizeof uts; i++) uts[i] = 0xaa;
    int ok = sc1(SYS_uname, (long)uts) == 0;
    for (int f = 0; f < 6 && ok; f++) {
        u8 *field = uts + 65 * f;
        int end = 0;
        while (end < 65 && field[end]) end++;
        if (end == 65) ok = 0;
        for (int i = end; i < 65; i++) if (field[i] != 0) ok = 0;
    }
    for (u64 i = 6 * 65; i < sizeof uts; i++) if (uts[i] != 0xaa) ok = 0;
    check("uname-fully-written-zero-padded-nothing-past", ok, "a field is not NUL-padded or bytes past it changed");

    long ts[4] = {-1, -1, 0x1234, 0x1234};
    ok = sc3(SYS_clock_gettime, 1, (long)ts, 0) == 0 && ts[0] >= 0 && ts[0] < (1L << 40) && ts[1] >= 0
         && ts[1] < 1000000000L && ts[2] == 0x1234 && ts[3] == 0x1234;
    check("clock_gettime-sane-and-nothing-past", ok, "bad timespec or bytes past it changed");

    static u8 rusage[144 + 16];
    long pid = sc0(SYS_fork);
    if (pid == 0) sys_exit(0);
    int status;
    ok = sc6(SYS_wait4, pid, (long)&status, 0, (long)rusage, 0, 0) == pid && !any_kernel_word(rusage, sizeof rusage);
    check("wait4-rusage-has-no-kernel-address", ok, "a word of the rusage looks like a kernel address");

    static u8 dirents[4096];
    long fd = sc3(SYS_open, (long)"/bin", 0x10000 /* O_DIRECTORY */, 0);
    long n = fd >= 0 ? sc3(SYS_getdents64, fd, (long)dirents, sizeof dirents) : -1;
    ok = n > 0;
    for (long off = 0; ok && off < n;) {
        u64 ino = *(u64 *)(dirents + off), next = *(u64 *)(dirents + off + 8);
        u16 reclen = *(u16 *)(dirents + off + 16);
        if (looks_like_kernel(ino) || looks_like_kernel(next) || reclen == 0) ok = 0;
        off += reclen;
    }
    if (fd >= 0) sc1(SYS_close, fd);
    check("getdents64-records-have-no-kernel-address", ok, "a d_ino or d_off looks like a kernel address");

    // The auxv follows envp's NULL: no value may be a kernel address.
    char **p = envp;
    while (*p) p++;
    u64 *auxv = (u64 *)(p + 1);
    ok = 1;
    int pairs = 0;
    for (; auxv[0] != 0 && pairs < 64; auxv += 2, pairs++) if (looks_like_kernel(auxv[1])) ok = 0;
    check("auxv-has-no-kernel-address", ok && pairs > 0, "an auxv value looks like a kernel address");
}

int test_main(int argc, char **argv) {
    if (argc >= 2) {
        const char *a = argv[1], *f = ENTRY_FLAG;
        while (*a && *a == *f) { a++; f++; }
        if (*a == 0 && *f == 0) {
            u64 faults = entry_faults();
            int lowest = 0;
            while (faults && !(faults >> lowest & 1)) lowest++;
            if (faults) sys_exit(1 + lowest);        // 1 + the CT_* index of a wrong register
            sys_exit(entry_vectors_clean() ? SYS_exit_code_ok : 30);
        }
    }
    swift = on_swiftkernel();
    u64 i = 0;
    for (; argv[0][i] && i < sizeof self_path_buffer - 1; i++) self_path_buffer[i] = argv[0][i];
    self_path_buffer[i] = 0;
    self_path = self_path_buffer;

    u64 faults = entry_faults();
    if (faults) { fail_begin("entry-state"); put_entry_faults(faults); ct_puts("\n"); }
    else pass("entry-state");
    check("entry-fpu-state-is-the-initial-one", entry_vectors_clean(), "XMM not zero, or MXCSR/FCW not 0x1f80/0x37f");

    shared = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, 0x01 /* MAP_SHARED */ | MAP_ANONYMOUS);
    if (mmap_failed((void *)shared)) { check("setup", 0, "mmap failed"); return 0; }
    syscall_cases();
    preemption_case();
    segment_cases();
    result_cases(argv + argc + 1);
    return 0;
}
