// User/Tests/segments: far jumps and far returns to every GDT and LDT
// selector, and `syscall` from compatibility mode (review finding 1).
//
// Each attempt runs in a child. The target is a polyglot: the same bytes
// exit with 64 when run as 64-bit code and with 32 when run in
// compatibility mode (through int 0x80, the ia32 exit).
// Expected, per the SDM's far-transfer checks and Linux:
//   - the task's own code segment (any RPL for ljmp, RPL 3 for lret): exit 64;
//   - Linux's __USER32_CS (index 4, 0x23): exit 32 with IA32_EMULATION,
//     SIGSEGV without it; on SwiftKernel there is no 32-bit user segment
//     at all (GDT.swift, a deliberate deviation), so SIGSEGV;
//   - every other selector (kernel segments, data segments, the TSS, null,
//     beyond the limit, any LDT selector: there is no LDT): #GP -> SIGSEGV.
// `syscall` in compatibility mode: on SwiftKernel the far jump already
// fails (SIGSEGV). On Linux it depends on the CPU: AMD runs the ia32
// syscall (then exit 33), Intel raises #UD (SIGILL); without
// IA32_EMULATION the int 0x80 after it is SIGSEGV.
#include "ctest.h"

extern char polyglot_exit[], compat_syscall_then_exit[];
__asm__(".text\n"
        "polyglot_exit:\n"
        "    xor %eax, %eax\n"
        "    .byte 0x40, 0x90\n"           // 64-bit: rex nop; 32-bit: inc eax; nop
        "    test %eax, %eax\n"
        "    jnz 1f\n"
        "    mov $64, %edi\n"
        "    mov $231, %eax\n"
        "    syscall\n"
        "1:  mov $32, %ebx\n"
        "    mov $1, %eax\n"
        "    int $0x80\n"
        "    hlt\n"
        "compat_syscall_then_exit:\n"
        "    xor %eax, %eax\n"
        "    .byte 0x40, 0x90\n"
        "    test %eax, %eax\n"
        "    jnz 1f\n"
        "    mov $64, %edi\n"
        "    mov $231, %eax\n"
        "    syscall\n"
        "1:  mov $20, %eax\n"              // ia32 getpid
        "    syscall\n"
        "    mov $33, %ebx\n"
        "    mov $1, %eax\n"
        "    int $0x80\n"
        "    hlt\n");

static u64 target;

static void far_jump(u64 selector) {
    struct __attribute__((packed)) { u32 offset; u16 selector; } far = { (u32)target, (u16)selector };
    __asm__ volatile("ljmpl *%0" : : "m"(far) : "memory");
}

static void far_return(u64 selector) {
    __asm__ volatile("pushq %0\n pushq %1\n lretq" : : "r"(selector), "r"(target) : "memory");
}

static u16 own_code_selector(void) { u16 cs; __asm__("mov %%cs, %0" : "=r"(cs)); return cs; }

enum { LINUX_USER32_INDEX = 4, GDT_INDICES = 16, LDT_INDICES = 4 };

// Checks one transfer; on_linux_compat: the Linux 32-bit user code slot.
static void try_selector(const char *kind, void (*transfer)(u64), u64 selector, int swift, int expect_code) {
    int status = run_child(transfer, selector);
    if (status == -1) return;
    int own = (selector >> 3) == (u64)(own_code_selector() >> 3) && !(selector & 4);
    int rpl_ok = transfer == far_jump || (selector & 3) == 3;
    int ok;
    if (own && rpl_ok) {
        ok = status_exited(status) && status_code(status) == expect_code;
        // QEMU 7.2 TCG reads the stack of a ring-3 lret with a supervisor
        // access, which SMAP refuses (#PF, so SIGSEGV); real CPUs and QEMU
        // without SMAP return (run-user-tests.sh runs this test without SMAP too).
        if (swift && transfer == far_return && status_signal(status) == SIGSEGV) ok = 1;
    }
    else if (!swift && (selector >> 3) == LINUX_USER32_INDEX && !(selector & 4) && rpl_ok)
        ok = (status_exited(status) && status_code(status) == (expect_code == 64 ? 32 : 33))
             || status_signal(status) == SIGSEGV || status_signal(status) == SIGILL;
    else ok = status_signal(status) == SIGSEGV;
    if (!swift && (selector >> 3) == LINUX_USER32_INDEX && (selector & 3) == 3 && !(selector & 4)) {
        ct_puts("note: Linux "); ct_puts(kind); ct_puts(" to "); ct_put_hex(selector); ct_puts(": ");
        put_status(status); ct_puts("\n");
    }
    if (!ok) { fail_begin(kind); ct_puts("selector "); ct_put_hex(selector); ct_puts(": "); put_status(status); ct_puts("\n"); }
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int swift = on_swiftkernel();
    int before = ct_failures;
    target = (u64)polyglot_exit;
    for (u64 index = 0; index < GDT_INDICES; index++)
        for (u64 rpl = 0; rpl < 4; rpl++) {
            try_selector("ljmp", far_jump, index << 3 | rpl, swift, 64);
            try_selector("lret", far_return, index << 3 | rpl, swift, 64);
        }
    for (u64 index = 0; index < LDT_INDICES; index++) {
        try_selector("ljmp", far_jump, index << 3 | 4 | 3, swift, 64);
        try_selector("lret", far_return, index << 3 | 4 | 3, swift, 64);
    }
    try_selector("ljmp", far_jump, 0xfffb, swift, 64);
    try_selector("lret", far_return, 0xffff, swift, 64);
    check("far-transfers-to-every-selector", ct_failures == before, "see the lines above");

    // Compatibility mode and syscall: through Linux's 32-bit slot, and through 0x1b
    // (SwiftKernel's former 32-bit user code segment, the panic of finding 1).
    before = ct_failures;
    target = (u64)compat_syscall_then_exit;
    try_selector("compat-syscall", far_jump, LINUX_USER32_INDEX << 3 | 3, swift, 65);
    try_selector("compat-syscall", far_jump, 0x1b, swift, 65);
    try_selector("compat-syscall", far_return, 0x1b, swift, 65);
    check("syscall-from-compatibility-mode", ct_failures == before, "see the lines above");
    // Still ours after all that: the kernel schedules and answers.
    check("parent-survives", sc0(SYS_getpid) > 0, "getpid failed");
    return 0;
}
