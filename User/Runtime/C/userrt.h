// User/Runtime/C/userrt.h: the C-level surface of the user runtime that
// Swift imports as `UserRT`.
//
// Design: Swift has no inline assembly, so the raw system-call gate lives in
// nasm (start.asm) and the few instructions the tests need on purpose (ud2,
// int3, a real #DE divide, stores to forbidden addresses) are `static inline`
// asm here, compiled straight into the Swift object. Buffered output lives in
// libc.c so Swift's `print` (which calls putchar) and the heap-free printing
// helpers share one buffer and keep their order.
#ifndef USERRT_H
#define USERRT_H

#include <stddef.h>
#include <stdint.h>

// Linux x86-64 system call `nr` with six arguments; returns RAX (negative
// errno on failure). Implemented in start.asm.
long user_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

// RSP at process entry (points at argc). Set by _start before main runs.
extern uint64_t user_initial_stack;

// Appends `count` bytes to the stdout buffer; flushes at '\n' or when full.
void user_out_write(const void *bytes, size_t count);
// Writes out everything buffered for stdout. Call before fork and exit.
void user_out_flush(void);
// Flushes stdout and ends the process (exit_group). Never returns.
_Noreturn void user_exit(int status);
// Bytes of the static heap arena still never handed out (for diagnostics).
size_t user_heap_unused(void);

// Linker-script symbols (User/Runtime/user.ld): bounds of the image.
extern char __user_text_start[];
extern char __user_text_end[];
extern char __user_image_end[];

// Returns the first address of the executable (text) segment.
static inline uintptr_t user_text_start(void) { return (uintptr_t)__user_text_start; }
// Returns the first address after the executable (text) segment.
static inline uintptr_t user_text_end(void) { return (uintptr_t)__user_text_end; }
// Returns the first address after .bss (where the program break may start).
static inline uintptr_t user_image_end(void) { return (uintptr_t)__user_image_end; }
// Returns the address of _start (what AT_ENTRY must say).
extern char _start[];
static inline uintptr_t user_entry_address(void) { return (uintptr_t)_start; }

// Executes ud2: #UD, which Linux reports as SIGILL.
static inline void user_fault_ud2(void) { __asm__ volatile("ud2"); }
// Executes int3: #BP, which Linux reports as SIGTRAP.
static inline void user_fault_int3(void) { __asm__ volatile("int3"); }
// Executes `div` by zero: #DE, which Linux reports as SIGFPE.
static inline uint64_t user_fault_divide(uint64_t dividend, uint64_t divisor) {
    uint64_t quotient, remainder = 0;
    __asm__ volatile("div %2" : "=a"(quotient), "+d"(remainder) : "r"(divisor), "a"(dividend));
    return quotient;
}
// Stores one byte at `address` with a plain mov, so the compiler cannot turn
// a store to NULL into a trap of its own.
static inline void user_store_byte(uintptr_t address, uint8_t value) {
    __asm__ volatile("movb %1, (%0)" : : "r"(address), "r"(value) : "memory");
}
// Loads one byte from `address` with a plain mov.
static inline uint8_t user_load_byte(uintptr_t address) {
    uint8_t value;
    __asm__ volatile("movb (%1), %0" : "=r"(value) : "r"(address) : "memory");
    return value;
}
// Calls the code at `address` (used to execute data, page 0 or the kernel
// half on purpose). Only for addresses whose execution should fault; if it
// does run, the code must be a bare `ret`.
static inline void user_call_address(uintptr_t address) {
    __asm__ volatile("call *%0" : : "r"(address) : "memory");
}
// Executes hlt, a privileged instruction: #GP in ring 3, SIGSEGV on Linux.
static inline void user_fault_hlt(void) { __asm__ volatile("hlt"); }
// The ELF header of this image (ld.lld defines it when the header is loaded).
extern char __ehdr_start[];
static inline uintptr_t user_elf_header(void) { return (uintptr_t)__ehdr_start; }

// Adds 1 to *counter with an instruction the optimiser must keep, so a busy
// loop around it is neither removed nor merged (spin, and anything else that
// must burn CPU time without making system calls).
static inline void user_volatile_increment(uint64_t *counter) {
    __asm__ volatile("incq %0" : "+m"(*counter));
}

// Returns RSP of the caller's frame (for alignment checks).
static inline uint64_t user_read_rsp(void) {
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    return rsp;
}

#endif
