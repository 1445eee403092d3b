// User/Tests/hostile: what a hostile ring-3 program cannot do (issue [6]).
//
// Every case runs in a child; the parent checks the child's wait status
// against Linux's signal (the native run on the Linux host is the oracle)
// and, at the end, that it is still scheduled. In QEMU the runner also
// checks that the frames are back at their baseline at power-off.
// Groups: bad memory accesses (NULL, text, rodata, executing data, every
// kernel range, non-canonical addresses, jumps into the kernel), CPU
// entries (int N for every vector, icebp, sysenter, syscall as the last
// instruction of user space, forged iretq frames, odd segment selectors,
// FS/GS bases) and privileged instructions. Where Linux and SwiftKernel
// differ on purpose (selector numbers, FSGSBASE, the end of user space)
// the expectation is chosen per platform (uname), and the comment says why.
// Far jumps to every selector and compat mode: User/Tests/segments.
#include "ctest.h"

static int swift;           // running on SwiftKernel (else Linux)
static int amd;             // CPUID vendor AuthenticAMD
static int fsgsbase;        // CPUID 7.0 EBX[0]
static int case_failures;
static int cases_run;

// The child must end with `signal` (0: exit 0), or with `also` when that is not -1.
static void expect_case_or(const char *group, const char *what, u64 arg, void (*body)(u64), int signal, int also) {
    int status = run_child(body, arg);
    cases_run++;
    if (status == -1) { case_failures++; return; }
    int ok = signal ? status_signal(status) == signal : status_exited(status) && status_code(status) == 0;
    if (also != -1) ok = ok || (also ? status_signal(status) == also : status_exited(status) && status_code(status) == 0);
    if (ok) return;
    case_failures++;
    fail_begin(group); ct_puts(what); ct_puts(" "); ct_put_hex(arg); ct_puts(": child ended with ");
    put_status(status); ct_puts(", expected ");
    if (signal) { ct_puts("signal "); ct_put_dec(signal); } else ct_puts("exit 0");
    ct_puts("\n");
}

static void expect_case(const char *group, const char *what, u64 arg, void (*body)(u64), int signal) {
    expect_case_or(group, what, arg, body, signal, -1);
}

static void group_result(const char *group, int failures_before) {
    check(group, case_failures == failures_before, "see the lines above");
}

// ---- Bad memory accesses ------------------------------------------------------
static void read_at(u64 a) { u8 v; __asm__ volatile("movb (%1), %0" : "=r"(v) : "r"(a) : "memory"); }
static void write_at(u64 a) { __asm__ volatile("movb $0x90, (%0)" : : "r"(a) : "memory"); }
static void call_at(u64 a) { __asm__ volatile("call *%0" : : "r"(a) : "memory"); }
static void jump_at(u64 a) { __asm__ volatile("jmp *%0" : : "r"(a) : "memory"); }

static const char rodata_text[] = "read-only";
static u64 data_ret = 0xc3;  // a `ret` in .data (RW, not executable)

static void execute_on_stack(u64 unused) {
    (void)unused;
    volatile u8 code[16] = {0xc3};
    call_at((u64)code);
}

static void execute_brk_heap(u64 unused) {
    (void)unused;
    u64 start = (u64)sc1(SYS_brk, 0);
    u64 end = (u64)sc1(SYS_brk, (long)(start + PAGE_SIZE));
    if (end < start + PAGE_SIZE) sys_exit(3);
    *(volatile u8 *)start = 0xc3;
    call_at(start);
}

static void execute_mmap_data(u64 unused) {
    (void)unused;
    u8 *p = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (mmap_failed(p)) sys_exit(3);
    p[0] = 0xc3;
    call_at((u64)p);
}

static void execute_after_mprotect_rw(u64 unused) {
    (void)unused;
    u8 *p = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS);
    if (mmap_failed(p)) sys_exit(3);
    p[0] = 0xc3;
    call_at((u64)p);                                   // allowed: RWX
    if (sc3(SYS_mprotect, (long)p, PAGE_SIZE, PROT_READ | PROT_WRITE) != 0) sys_exit(4);
    call_at((u64)p);                                   // now NX
}

// Kernel ranges of SwiftKernel (KernelLayout.swift), Linux's usual ones and
// the edges of the canonical halves. Each is read, written and executed.
static const u64 kernel_addresses[] = {
    0x00007f8000000000UL,  // SwiftKernel: PML4 slot 255, below the image
    0x00007f8000200000UL,  // SwiftKernel: kernel .text
    0x00007f8000300000UL,  // SwiftKernel: inside the image
    0x00007f8001000000UL,  // SwiftKernel: the heap window
    0x00007fffffffe000UL,  // the last user-half pages
    0xffff800000000000UL,  // the first kernel-half address (SwiftKernel: the direct map)
    0xffff800000200000UL,  // SwiftKernel: the direct-map alias of .text
    0xffff888000000000UL,  // Linux: the direct map
    0xffffffff80000000UL,  // Linux: kernel text
    0xffffffffff600000UL,  // Linux: the legacy vsyscall page
    0xfffffffffffff000UL,  // the last page
};
static const u64 non_canonical[] = {
    0x0000800000000000UL, 0x00008000deadbeefUL, 0x7fffffffffffffffUL, 0x8000000000000000UL,
    0xdeadbeefdeadbeefUL, 0xffff7fffffffffffUL,
};

static void memory_cases(void) {
    int before = case_failures;
    expect_case("null", "read", 0, read_at, SIGSEGV);
    expect_case("null", "write", 0, write_at, SIGSEGV);
    expect_case("null", "call", 0, call_at, SIGSEGV);
    expect_case("null", "read near", 0xfff, read_at, SIGSEGV);
    group_result("null-accesses", before);

    before = case_failures;
    expect_case("image", "write text", (u64)memory_cases, write_at, SIGSEGV);
    expect_case("image", "write rodata", (u64)rodata_text, write_at, SIGSEGV);
    expect_case("image", "call data", (u64)&data_ret, call_at, SIGSEGV);
    expect_case("image", "execute stack", 0, execute_on_stack, SIGSEGV);
    expect_case("image", "execute brk heap", 0, execute_brk_heap, SIGSEGV);
    expect_case("image", "execute mmap data", 0, execute_mmap_data, SIGSEGV);
    expect_case("image", "execute after mprotect RW", 0, execute_after_mprotect_rw, SIGSEGV);
    group_result("text-rodata-and-data-permissions", before);

    before = case_failures;
    for (u64 i = 0; i < sizeof kernel_addresses / 8; i++) {
        u64 a = kernel_addresses[i];
        // The vsyscall page is readable on Linux with vsyscall=xonly? No:
        // xonly (the default) makes reads fault, and execution emulates
        // the three vsyscalls at their entry points only.
        expect_case("kernel", "read", a, read_at, SIGSEGV);
        expect_case("kernel", "write", a, write_at, SIGSEGV);
        if (a != 0xffffffffff600000UL || swift) expect_case("kernel", "jump", a, jump_at, SIGSEGV);
    }
    group_result("kernel-ranges-read-write-execute", before);

    before = case_failures;
    for (u64 i = 0; i < sizeof non_canonical / 8; i++) {
        expect_case("non-canonical", "read", non_canonical[i], read_at, SIGSEGV);
        expect_case("non-canonical", "write", non_canonical[i], write_at, SIGSEGV);
        expect_case("non-canonical", "jump", non_canonical[i], jump_at, SIGSEGV);
    }
    group_result("non-canonical-addresses", before);
}

// ---- CPU entries ----------------------------------------------------------------
// int $N for every N: a table of `int N; hlt` stubs, 3 bytes each (CD nn F4).
extern char int_stubs[];
__asm__(".text\n int_stubs:\n"
        ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        ".irp m, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "    .byte 0xcd, (\\n * 16 + \\m), 0xf4\n"
        ".endr\n.endr\n");
static void int_vector(u64 n) { call_at((u64)int_stubs + 3 * n); }

static void icebp(u64 unused) { (void)unused; __asm__ volatile(".byte 0xf1"); }
static void int3_short(u64 unused) { (void)unused; __asm__ volatile("int3"); }
static void into_in_64(u64 unused) { (void)unused; __asm__ volatile(".byte 0xce"); }  // into: #UD in 64-bit mode
static void do_sysenter(u64 unused) { (void)unused; __asm__ volatile("sysenter"); }

// A page at the very end of user space whose last bytes are `mov $39, %eax;
// syscall`: the syscall returns to the first address past user space.
static void syscall_at_end_of_user_space(u64 end) {
    u8 *page = sys_mmap((void *)(end - PAGE_SIZE), PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    if (mmap_failed(page)) sys_exit(3);
    static const u8 code[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05};
    for (u64 i = 0; i < sizeof code; i++) page[PAGE_SIZE - sizeof code + i] = code[i];
    jump_at(end - sizeof code);
}

static u16 own_cs(void) { u16 v; __asm__("mov %%cs, %0" : "=r"(v)); return v; }
static u16 own_ss(void) { u16 v; __asm__("mov %%ss, %0" : "=r"(v)); return v; }

// iretq with a forged frame; `which` picks the forgery.
enum { IRET_VALID, IRET_KERNEL_CS, IRET_NULL_SS, IRET_KERNEL_SS, IRET_NON_CANONICAL_RIP, IRET_IOPL3_THEN_CLI,
       IRET_RPL0_CS, IRET_CASES };
static void forged_iretq(u64 which) {
    u64 cs = own_cs(), ss = own_ss(), rflags = 0x202, rip, rsp;
    __asm__ volatile("lea 1f(%%rip), %0" : "=r"(rip));
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    switch (which) {
    case IRET_KERNEL_CS: cs = 0x08; break;
    case IRET_NULL_SS: ss = 0; break;
    case IRET_KERNEL_SS: ss = 0x10; break;
    case IRET_NON_CANONICAL_RIP: rip = 0x0000800000000000UL; break;
    case IRET_IOPL3_THEN_CLI: rflags |= 3 << 12; break;
    case IRET_RPL0_CS: cs &= ~3UL; break;
    }
    __asm__ volatile("pushq %0\n pushq %1\n pushq %2\n pushq %3\n pushq %4\n iretq\n"
                     "1:\n"
                     : : "r"(ss), "r"(rsp), "r"(rflags), "r"(cs), "r"(rip) : "memory");
    if (which == IRET_IOPL3_THEN_CLI) __asm__ volatile("cli");   // IOPL stays 0 at CPL 3
    sys_exit(0);
}

// mov to a segment register: `which` = register * 0x10000 + selector.
static void load_segment(u64 which) {
    u16 selector = (u16)which;
    switch (which >> 16) {
    case 0: __asm__ volatile("mov %0, %%ds" : : "r"(selector)); break;
    case 1: __asm__ volatile("mov %0, %%es" : : "r"(selector)); break;
    case 2: __asm__ volatile("mov %0, %%fs" : : "r"(selector)); break;
    case 3: __asm__ volatile("mov %0, %%gs" : : "r"(selector)); break;
    case 4: __asm__ volatile("mov %0, %%ss" : : "r"(selector)); break;
    }
    // Leave no odd selector behind for the exit path.
    u16 zero = 0;
    if ((which >> 16) < 4) __asm__ volatile("mov %0, %%ds\n mov %0, %%es" : : "r"(zero));
}

// Can `selector` be loaded into DS/ES/FS/GS at CPL 3 on this platform?
// Null selectors always; otherwise a present DPL-3 data or readable code
// segment. SwiftKernel (GDT.swift): user data 0x20, user code 0x28.
// Linux: __USER32_CS 0x20, __USER_DS 0x28, __USER_CS 0x30, __CPUNODE 0x78.
static int loadable_data_selector(u16 selector) {
    u16 index = selector >> 3;
    if (selector & 4) return 0;                          // no LDT on either
    if (index == 0) return 1;
    if (swift) return index == 4 || index == 5;
    return index == 4 || index == 5 || index == 6 || index == 15;
}
static int loadable_stack_selector(u16 selector) {
    return !(selector & 4) && (selector & 3) == 3 && (selector >> 3) == (u16)(own_ss() >> 3);
}

static void write_fs_base(u64 value) { __asm__ volatile("wrfsbase %0" : : "r"(value)); }
static void write_gs_base(u64 value) { __asm__ volatile("wrgsbase %0" : : "r"(value)); }

static void arch_prctl_set_fs(u64 base) {
    long r = sc3(158 /* arch_prctl */, 0x1002 /* ARCH_SET_FS */, (long)base, 0);
    sys_exit(r == (swift ? -ENOSYS : 0) ? 0 : 1);
}

static void entry_cases(void) {
    int before = case_failures;
    for (u64 n = 0; n < 256; n++) {
        // int $0x80 is a real ia32 syscall on Linux (IA32_EMULATION); here it is #GP.
        if (n == 0x80 && !swift) continue;
        // Gate DPL: 3 only for #BP (SIGTRAP) and, on Linux, #OF (its handler: SIGSEGV).
        expect_case("int", "vector", n, int_vector, n == 3 ? SIGTRAP : SIGSEGV);
    }
    expect_case("int", "int3", 0, int3_short, SIGTRAP);
    // icebp is #DB (SIGTRAP) on hardware; QEMU 7.2 TCG turns it into #UD (SIGILL).
    expect_case_or("int", "icebp", 0, icebp, SIGTRAP, swift ? SIGILL : -1);
    expect_case("int", "into", 0, into_in_64, SIGILL);
    group_result("int-every-vector", before);

    before = case_failures;
    // AMD: sysenter is #UD in long mode (SIGILL; QEMU TCG's CPU models are
    // AMD). Intel: Linux points SYSENTER at its compat entry; SwiftKernel
    // leaves SYSENTER_CS 0, so #GP (SIGSEGV).
    expect_case("sysenter", "sysenter", 0, do_sysenter, amd ? SIGILL : (swift ? SIGSEGV : 0));
    // SwiftKernel's user space ends at 0x7f80_0000_0000 (the kernel image
    // follows); Linux's at 0x7fff_ffff_f000 (a guard page follows). Either
    // way the syscall returns to an address the task cannot fetch.
    expect_case("syscall", "last instruction of user space", swift ? 0x00007f8000000000UL : 0x00007ffffffff000UL,
                syscall_at_end_of_user_space, SIGSEGV);
    // A valid frame returns. QEMU 7.2 TCG reads the frame of a ring-3
    // iretq with a supervisor access, which SMAP refuses (#PF: SIGSEGV);
    // run-user-tests.sh also runs this test without SMAP, where it returns.
    for (u64 which = 0; which < IRET_CASES; which++)
        expect_case_or("iretq", "forged frame", which, forged_iretq,
                       which == IRET_VALID ? 0 : SIGSEGV,   // RPL 0 CS: a return to ring 0, refused
                       which == IRET_VALID && swift ? SIGSEGV : -1);
    group_result("sysenter-syscall-at-end-and-forged-iretq", before);

    before = case_failures;
    for (u64 reg = 0; reg < 5; reg++)
        for (u64 index = 0; index < 17; index++)
            for (u64 low = 0; low < 8; low += 3) {           // RPL 0 and 3, and the LDT bit
                u16 selector = (u16)(index << 3 | (low == 6 ? 4 | 3 : low));
                int ok = reg == 4 ? loadable_stack_selector(selector) : loadable_data_selector(selector);
                // Data segments: max(CPL, RPL) <= DPL, so RPL 0 loads too.
                // SS: RPL must be 3 and a null SS is #GP at CPL 3.
                expect_case("segment", reg == 4 ? "ss" : "ds/es/fs/gs", reg << 16 | selector, load_segment,
                            ok ? 0 : SIGSEGV);
            }
    expect_case("segment", "ds", 0xffff, load_segment, SIGSEGV);
    expect_case("segment", "gs", 3 << 16 | 0xfffc, load_segment, SIGSEGV);
    group_result("odd-segment-selectors", before);

    before = case_failures;
    // SwiftKernel leaves CR4.FSGSBASE off (no per-task FS/GS base yet):
    // #UD. Linux >= 5.9 enables it where the CPU has it; a non-canonical
    // base is then #GP.
    int base_ok = swift || !fsgsbase ? SIGILL : 0;
    int base_bad = swift || !fsgsbase ? SIGILL : SIGSEGV;
    expect_case("fsgsbase", "wrfsbase", 0x10000, write_fs_base, base_ok);
    expect_case("fsgsbase", "wrgsbase", 0x10000, write_gs_base, base_ok);
    expect_case("fsgsbase", "wrfsbase non-canonical", 0x8000000000000000UL, write_fs_base, base_bad);
    expect_case("fsgsbase", "wrgsbase kernel", 0xffff800000000000UL, write_gs_base, base_ok);
    // arch_prctl(ARCH_SET_FS): not implemented here (-ENOSYS), 0 on Linux.
    expect_case("fsgsbase", "arch_prctl(ARCH_SET_FS)", 0x10000, arch_prctl_set_fs, 0);
    group_result("fs-and-gs-bases", before);
}

// ---- Privileged instructions -----------------------------------------------------
#define PRIVILEGED(name, text) static void name(u64 unused) { (void)unused; __asm__ volatile(text ::: "memory", "rax", "rcx", "rdx", "r11"); }
PRIVILEGED(p_cli, "cli")
PRIVILEGED(p_sti, "sti")
PRIVILEGED(p_hlt, "hlt")
PRIVILEGED(p_in, "in $0x80, %%al")
PRIVILEGED(p_out, "out %%al, $0x80")
PRIVILEGED(p_out_debug_exit, "mov $0, %%eax\n out %%eax, $0xf4")   // QEMU's isa-debug-exit
PRIVILEGED(p_in_dx, "mov $0x3f8, %%edx\n in %%dx, %%al")
PRIVILEGED(p_read_cr0, "mov %%cr0, %%rax")
PRIVILEGED(p_write_cr0, "xor %%eax, %%eax\n mov %%rax, %%cr0")
PRIVILEGED(p_read_cr3, "mov %%cr3, %%rax")
PRIVILEGED(p_write_cr3, "xor %%eax, %%eax\n mov %%rax, %%cr3")
PRIVILEGED(p_read_cr4, "mov %%cr4, %%rax")
PRIVILEGED(p_write_cr4, "xor %%eax, %%eax\n mov %%rax, %%cr4")
PRIVILEGED(p_read_cr8, "mov %%cr8, %%rax")
PRIVILEGED(p_read_dr7, "mov %%dr7, %%rax")
PRIVILEGED(p_write_dr7, "xor %%eax, %%eax\n mov %%rax, %%dr7")
PRIVILEGED(p_lgdt, "sub $16, %%rsp\n lgdt (%%rsp)\n add $16, %%rsp")
PRIVILEGED(p_lidt, "sub $16, %%rsp\n lidt (%%rsp)\n add $16, %%rsp")
PRIVILEGED(p_lldt, "xor %%eax, %%eax\n lldt %%ax")
PRIVILEGED(p_ltr, "mov $0x30, %%eax\n ltr %%ax")
PRIVILEGED(p_rdmsr, "mov $0xc0000080, %%ecx\n rdmsr")
PRIVILEGED(p_wrmsr, "mov $0xc0000082, %%ecx\n xor %%eax, %%eax\n xor %%edx, %%edx\n wrmsr")
PRIVILEGED(p_invlpg, "invlpg (%%rsp)")
PRIVILEGED(p_wbinvd, "wbinvd")
PRIVILEGED(p_invd, "invd")
PRIVILEGED(p_swapgs, "swapgs")
PRIVILEGED(p_sysret, "lea 1f(%%rip), %%rcx\n mov $0x202, %%r11\n sysretq\n 1:")
PRIVILEGED(p_clts, "clts")
PRIVILEGED(p_rdpmc, "xor %%ecx, %%ecx\n rdpmc")

struct privileged { const char *name; void (*body)(u64); };
static const struct privileged privileged[] = {
    {"cli", p_cli}, {"sti", p_sti}, {"hlt", p_hlt}, {"in", p_in}, {"out", p_out},
    {"out to isa-debug-exit", p_out_debug_exit}, {"in from COM1", p_in_dx},
    {"mov from cr0", p_read_cr0}, {"mov to cr0", p_write_cr0}, {"mov from cr3", p_read_cr3},
    {"mov to cr3", p_write_cr3}, {"mov from cr4", p_read_cr4}, {"mov to cr4", p_write_cr4},
    {"mov from cr8", p_read_cr8}, {"mov from dr7", p_read_dr7}, {"mov to dr7", p_write_dr7},
    {"lgdt", p_lgdt}, {"lidt", p_lidt}, {"lldt", p_lldt}, {"ltr", p_ltr},
    {"rdmsr", p_rdmsr}, {"wrmsr", p_wrmsr}, {"invlpg", p_invlpg}, {"wbinvd", p_wbinvd},
    {"invd", p_invd}, {"swapgs", p_swapgs}, {"sysret", p_sysret}, {"clts", p_clts}, {"rdpmc", p_rdpmc},
};

static void privileged_cases(void) {
    int before = case_failures;
    // Every one is #GP at CPL 3 (swapgs, sysret: #GP as well), so SIGSEGV on Linux.
    for (u64 i = 0; i < sizeof privileged / sizeof privileged[0]; i++)
        expect_case("privileged", privileged[i].name, i, privileged[i].body, SIGSEGV);
    group_result("privileged-instructions", before);
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    swift = on_swiftkernel();
    u32 a = 0, b, c, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    amd = b == 0x68747541;  // "Auth"
    a = 7; c = 0;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    fsgsbase = b & 1;
    memory_cases();
    entry_cases();
    privileged_cases();
    ct_puts("note: "); ct_put_dec(cases_run); ct_puts(" hostile cases, ");
    ct_put_dec(cases_run - case_failures); ct_puts(" as expected\n");
    // Still scheduled and answering after all that.
    long pid = sc0(SYS_getpid);
    check("kernel-still-schedules", sc0(SYS_sched_yield) == 0 && pid > 0 && sc0(SYS_getpid) == pid,
          "sched_yield or getpid failed");
    return 0;
}
