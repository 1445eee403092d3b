// User/Runtime/ctest.h: the runtime of the C test programs (User/Tests/<name>/*.c).
//
// C, not Swift, because the hostile tests are mostly inline assembly. No
// libc: raw `syscall` wrappers, heap-free printing, the test protocol of
// User/README.md ("PASS <check>" / "FAIL <check>: <reason>", exit 0 only if
// every check passed) and a fork/wait4 helper that runs one case in a child.
// Each test program includes this header once and defines
//     int test_main(int argc, char **argv);
// which returns after its checks; _start exits with 1 if any check failed.
// Built by gcc -static -nostdlib -fno-pie -no-pie -ffreestanding (user.mk).
#pragma once
#pragma GCC diagnostic ignored "-Wunused-function"

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

enum {
    SYS_read = 0, SYS_write = 1, SYS_open = 2, SYS_close = 3, SYS_mmap = 9, SYS_mprotect = 10,
    SYS_munmap = 11, SYS_brk = 12, SYS_sched_yield = 24, SYS_getpid = 39, SYS_fork = 57,
    SYS_execve = 59, SYS_exit = 60, SYS_wait4 = 61, SYS_uname = 63, SYS_getppid = 110,
    SYS_getdents64 = 217, SYS_clock_gettime = 228, SYS_exit_group = 231, SYS_openat = 257,
};
enum { SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGKILL = 9, SIGSEGV = 11 };
enum { PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4 };
enum { MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20 };
enum { EBADF = 9, ECHILD = 10, EFAULT = 14, EINVAL = 22, ENOSYS = 38 };
#define PAGE_SIZE 4096UL

// ---- System calls ----------------------------------------------------------
static inline long sc6(long n, long a, long b, long c, long d, long e, long f) {
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}
static inline long sc3(long n, long a, long b, long c) { return sc6(n, a, b, c, 0, 0, 0); }
static inline long sc1(long n, long a) { return sc6(n, a, 0, 0, 0, 0, 0); }
static inline long sc0(long n) { return sc6(n, 0, 0, 0, 0, 0, 0); }

static inline __attribute__((noreturn)) void sys_exit(int code) {
    for (;;) sc1(SYS_exit_group, code);
}
static inline void *sys_mmap(void *address, u64 length, int prot, int flags) {
    return (void *)sc6(SYS_mmap, (long)address, (long)length, prot, flags, -1, 0);
}
static inline int mmap_failed(void *p) { return (u64)p > (u64)-4096; }

// ---- Output (no buffering: a child that is killed has printed nothing) -------
static u64 ct_strlen(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static void ct_puts(const char *s) { sc3(SYS_write, 1, (long)s, (long)ct_strlen(s)); }
static void ct_put_hex(u64 v) {
    char b[19]; b[0] = '0'; b[1] = 'x';
    int n = 0; u64 t = v; do { n++; t >>= 4; } while (t);
    for (int i = 0; i < n; i++) b[2 + n - 1 - i] = "0123456789abcdef"[(v >> (4 * i)) & 15];
    b[2 + n] = 0; ct_puts(b);
}
static void ct_put_dec(long v) {
    char b[24]; int i = 23; b[i] = 0;
    u64 u = v < 0 ? -(u64)v : (u64)v;
    do { b[--i] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) b[--i] = '-';
    ct_puts(b + i);
}

static int ct_failures, ct_passes;

static void pass(const char *check) { ct_passes++; ct_puts("PASS "); ct_puts(check); ct_puts("\n"); }
static void fail_begin(const char *check) { ct_failures++; ct_puts("FAIL "); ct_puts(check); ct_puts(": "); }

// check(name, ok, reason): one result line.
static void check(const char *name, int ok, const char *reason) {
    if (ok) { pass(name); return; }
    fail_begin(name); ct_puts(reason); ct_puts("\n");
}
static void check_equal(const char *name, long got, long expected) {
    if (got == expected) { pass(name); return; }
    fail_begin(name); ct_puts("got "); ct_put_dec(got); ct_puts(", expected "); ct_put_dec(expected); ct_puts("\n");
}

// ---- Wait statuses ---------------------------------------------------------------
static int status_signal(int s) { return (s & 0x7f) != 0 && (s & 0x7f) != 0x7f ? (s & 0x7f) : 0; }
static int status_exited(int s) { return (s & 0x7f) == 0; }
static int status_code(int s) { return (s >> 8) & 0xff; }

static void put_status(int s) {
    if (status_exited(s)) { ct_puts("exit "); ct_put_dec(status_code(s)); }
    else { ct_puts("signal "); ct_put_dec(status_signal(s)); }
}

// Runs body(arg) in a child, which exits 0 if body returns. Returns the wait
// status, or -1 (with a FAIL line) when fork or wait4 fails.
static int run_child(void (*body)(u64), u64 arg) {
    long pid = sc0(SYS_fork);
    if (pid == 0) { body(arg); sys_exit(0); }
    if (pid < 0) { fail_begin("fork"); ct_put_dec(pid); ct_puts("\n"); return -1; }
    int status = 0;
    long r = sc6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
    if (r != pid) { fail_begin("wait4"); ct_put_dec(r); ct_puts("\n"); return -1; }
    return status;
}

// Expects the child's status to be death by `signal` (or exit `code` when signal is 0).
static void expect_status(const char *name, int status, int signal, int code) {
    if (status == -1) return;
    int ok = signal ? status_signal(status) == signal : (status_exited(status) && status_code(status) == code);
    if (ok) { pass(name); return; }
    fail_begin(name); ct_puts("child ended with "); put_status(status); ct_puts(", expected ");
    if (signal) { ct_puts("signal "); ct_put_dec(signal); } else { ct_puts("exit "); ct_put_dec(code); }
    ct_puts("\n");
}

// True when running on SwiftKernel (uname sysname), false on Linux.
static int on_swiftkernel(void) {
    static char uts[6 * 65];
    if (sc1(SYS_uname, (long)uts) != 0) return 0;
    const char *want = "SwiftKernel";
    for (int i = 0; want[i]; i++) if (uts[i] != want[i]) return 0;
    return uts[11] == 0;
}

int test_main(int argc, char **argv);

// The registers as the kernel handed them to _start, saved before anything
// runs (User/Tests/info_leaks checks them against Linux's start_thread).
enum {
    CT_RAX, CT_RBX, CT_RCX, CT_RDX, CT_RSI, CT_RDI, CT_RBP, CT_RSP, CT_R8, CT_R9, CT_R10, CT_R11, CT_R12,
    CT_R13, CT_R14, CT_R15, CT_RFLAGS, CT_DS, CT_ES, CT_FS, CT_GS, CT_ENTRY_COUNT
};
__attribute__((used)) static u64 ct_entry_registers[CT_ENTRY_COUNT];
// XMM0-15's low halves, then MXCSR and the x87 control word, at _start.
enum { CT_MXCSR = 16, CT_FPU_CONTROL = 17, CT_VECTOR_COUNT = 18 };
__attribute__((used)) static u64 ct_entry_vectors[CT_VECTOR_COUNT];

__attribute__((used, noreturn)) static void ct_start(long *stack) {
    int argc = (int)stack[0];
    test_main(argc, (char **)(stack + 1));
    sys_exit(ct_failures == 0 && ct_passes > 0 ? 0 : 1);
}
__asm__(".text\n.globl _start\n_start:\n"
        "    mov %rax, ct_entry_registers+0(%rip)\n    mov %rbx, ct_entry_registers+8(%rip)\n"
        "    mov %rcx, ct_entry_registers+16(%rip)\n   mov %rdx, ct_entry_registers+24(%rip)\n"
        "    mov %rsi, ct_entry_registers+32(%rip)\n   mov %rdi, ct_entry_registers+40(%rip)\n"
        "    mov %rbp, ct_entry_registers+48(%rip)\n   mov %rsp, ct_entry_registers+56(%rip)\n"
        "    mov %r8, ct_entry_registers+64(%rip)\n    mov %r9, ct_entry_registers+72(%rip)\n"
        "    mov %r10, ct_entry_registers+80(%rip)\n   mov %r11, ct_entry_registers+88(%rip)\n"
        "    mov %r12, ct_entry_registers+96(%rip)\n   mov %r13, ct_entry_registers+104(%rip)\n"
        "    mov %r14, ct_entry_registers+112(%rip)\n  mov %r15, ct_entry_registers+120(%rip)\n"
        "    pushfq\n    popq ct_entry_registers+128(%rip)\n"
        "    movw %ds, ct_entry_registers+136(%rip)\n  movw %es, ct_entry_registers+144(%rip)\n"
        "    movw %fs, ct_entry_registers+152(%rip)\n  movw %gs, ct_entry_registers+160(%rip)\n"
        ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "    movq %xmm\\n, ct_entry_vectors+8*\\n(%rip)\n"
        ".endr\n"
        "    stmxcsr ct_entry_vectors+128(%rip)\n    fnstcw ct_entry_vectors+136(%rip)\n"
        "    xor %ebp, %ebp\n    mov %rsp, %rdi\n    and $-16, %rsp\n"
        "    call ct_start\n    hlt\n");
