// User/Programs/bench_exec_target/bench_exec_target.c: the smallest static
// program, for bench_fork's exec figure (lmbench lat_proc exec): it exits 0
// at once.
__attribute__((noreturn)) void _start(void) {
    for (;;) __asm__ volatile("syscall" : : "a"(231), "D"(0) : "rcx", "r11", "memory");
}
