// User/Programs/hello_c/hello.c: a user program in plain C with no library
// at all: its own _start and inline `syscall` instructions for write and
// exit_group. It proves the kernel runs ordinary gcc-built static ELF
// executables, not only the ones our Swift toolchain and linker script make.
// Built with: gcc -static -nostdlib -fno-pie -no-pie -ffreestanding -O2.

enum {
    SYS_WRITE = 1,
    SYS_EXIT_GROUP = 231,
    STDOUT = 1,
};

// Raw 3-argument system call; returns RAX (negative errno on failure).
static long syscall3(long number, long a1, long a2, long a3) {
    long result;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a1), "S"(a2), "d"(a3)
                     : "rcx", "r11", "memory");
    return result;
}

// Writes the whole static message; returns 0 on success, 1 otherwise.
static int say_hello(void) {
    static const char message[] = "Hello from C in ring 3\n";
    long length = sizeof message - 1;
    return syscall3(SYS_WRITE, STDOUT, (long)message, length) == length ? 0 : 1;
}

// Process entry. The kernel enters with RSP 16-byte aligned (not the
// RSP+8 a call leaves), so ask gcc to realign before any spill. Never returns.
__attribute__((noreturn, force_align_arg_pointer)) void _start(void) {
    int status = say_hello();
    for (;;) syscall3(SYS_EXIT_GROUP, status, 0, 0);
}
