// User/Tests/umip: sgdt, sidt, sldt, str and smsw in ring 3 (review
// finding 15). Where the CPU has UMIP (CPUID 7.0 ECX[2]) SwiftKernel turns
// it on, so each raises #GP: SIGSEGV, and no kernel address leaks. Without
// UMIP they run (exit 0). Linux with UMIP emulates some of them with dummy
// values and kills on the others; natively this test asserts only that
// each child ends in exit 0 or SIGSEGV and prints what Linux did.
#include "ctest.h"

static void run_instruction(u64 which) {
    struct __attribute__((packed)) { u16 limit; u64 base; } table;
    u16 selector;
    switch (which) {
    case 0: __asm__ volatile("sgdt %0" : "=m"(table)); break;
    case 1: __asm__ volatile("sidt %0" : "=m"(table)); break;
    case 2: __asm__ volatile("sldt %0" : "=m"(selector)); break;
    case 3: __asm__ volatile("str %0" : "=m"(selector)); break;
    case 4: __asm__ volatile("smsw %0" : "=m"(selector)); break;
    }
}

static int cpu_has_umip(void) {
    u32 a = 7, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (c >> 2) & 1;
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static const char *names[] = {"sgdt", "sidt", "sldt", "str", "smsw"};
    int swift = on_swiftkernel(), umip = cpu_has_umip();
    for (u64 i = 0; i < 5; i++) {
        int status = run_child(run_instruction, i);
        if (status == -1) continue;
        char name[32] = "umip-";
        for (int k = 0; names[i][k]; k++) { name[5 + k] = names[i][k]; name[6 + k] = 0; }
        if (swift) {
            expect_status(name, status, umip ? SIGSEGV : 0, 0);
        } else {
            check(name, status_signal(status) == SIGSEGV || (status_exited(status) && status_code(status) == 0),
                  "neither exit 0 nor SIGSEGV");
            ct_puts("note: Linux "); ct_puts(names[i]); ct_puts(umip ? " (UMIP): " : " (no UMIP): ");
            put_status(status); ct_puts("\n");
        }
    }
    check("parent-survives", sc0(SYS_getpid) > 0, "getpid failed");
    return 0;
}
