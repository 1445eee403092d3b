// HAL: the x86-64 instructions Swift cannot express.
//
// Swift has no inline assembly, so each privileged instruction is a
// `static inline` C function here. They compile straight into the Swift
// object (with the kernel's -mno-red-zone), so there is no call overhead.
// Entry stubs, iretq/sysret and context switches live in Boot/*.asm.
#pragma once
#include <stdint.h>

// ---- Port I/O ------------------------------------------------------------
static inline void hal_outb(uint16_t port, uint8_t value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
static inline uint8_t hal_inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
static inline void hal_outl(uint16_t port, uint32_t value) {
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

// ---- Control registers ---------------------------------------------------
static inline uint64_t hal_read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline void hal_write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline uint64_t hal_read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t hal_read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void hal_write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint64_t hal_read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void hal_write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

static inline uint64_t hal_read_rbp(void) { uint64_t v; __asm__ volatile("mov %%rbp, %0" : "=r"(v)); return v; }

// ---- MSRs and CPUID --------------------------------------------------------
static inline uint64_t hal_rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void hal_wrmsr(uint32_t msr, uint64_t value) {
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}
typedef struct { uint32_t eax, ebx, ecx, edx; } hal_cpuid_result;
static inline hal_cpuid_result hal_cpuid(uint32_t leaf, uint32_t subleaf) {
    hal_cpuid_result r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}
static inline uint64_t hal_rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

// ---- Descriptor tables ------------------------------------------------------
typedef struct __attribute__((packed)) { uint16_t limit; uint64_t base; } hal_descriptor_pointer;
static inline void hal_lidt(uint64_t base, uint16_t limit) {
    hal_descriptor_pointer p = { limit, base };
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}
static inline hal_descriptor_pointer hal_sgdt(void) {
    hal_descriptor_pointer p;
    __asm__ volatile("sgdt %0" : "=m"(p));
    return p;
}
static inline void hal_ltr(uint16_t selector) { __asm__ volatile("ltr %0" : : "r"(selector) : "memory"); }
// Loads a new GDT and reloads every segment register (Boot/gdt.asm).
void hal_load_gdt(uint64_t base, uint16_t limit, uint16_t code_selector, uint16_t data_selector);

// The data segment selectors a task may load in ring 3 (Kernel/Arch/x86_64/UserSegments.swift).
typedef struct { uint16_t ds, es, fs, gs; } hal_segments;
static inline hal_segments hal_read_segments(void) {
    hal_segments s;
    __asm__ volatile("mov %%ds, %0\n mov %%es, %1\n mov %%fs, %2\n mov %%gs, %3"
                     : "=r"(s.ds), "=r"(s.es), "=r"(s.fs), "=r"(s.gs));
    return s;
}
static inline void hal_load_segments(hal_segments s) {
    __asm__ volatile("mov %0, %%ds\n mov %1, %%es\n mov %2, %%fs\n mov %3, %%gs"
                     : : "r"(s.ds), "r"(s.es), "r"(s.fs), "r"(s.gs) : "memory");
}

// ---- TLB and interrupts --------------------------------------------------
static inline void hal_invlpg(uint64_t address) { __asm__ volatile("invlpg (%0)" : : "r"(address) : "memory"); }
static inline void hal_cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void hal_sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hal_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void hal_pause(void) { __asm__ volatile("pause"); }
static inline void hal_ud2(void) { __asm__ volatile("ud2"); }

// ---- Interrupt frame ----------------------------------------------------------
// The layout Boot/interrupts.asm builds on the stack before calling
// `interrupt_dispatch`. Keep the two in step.
typedef struct {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    // Pushed by the CPU.
    uint64_t rip, cs, rflags, rsp, ss;
} hal_interrupt_frame;

// ---- Linker symbols ------------------------------------------------------------
// Addresses of the image's sections (Linker/kernel.ld).
extern char __kernel_start[], __kernel_end[];
extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];
extern char __bss_start[], __bss_end[];
extern char __kernel_physical_start[];
// ISR entry points, one per vector (Boot/interrupts.asm).
extern uint64_t isr_stub_table[];

static inline uint64_t hal_kernel_start(void) { return (uint64_t)__kernel_start; }
static inline uint64_t hal_kernel_end(void) { return (uint64_t)__kernel_end; }
static inline uint64_t hal_text_start(void) { return (uint64_t)__text_start; }
static inline uint64_t hal_text_end(void) { return (uint64_t)__text_end; }
static inline uint64_t hal_rodata_start(void) { return (uint64_t)__rodata_start; }
static inline uint64_t hal_rodata_end(void) { return (uint64_t)__rodata_end; }
static inline uint64_t hal_data_start(void) { return (uint64_t)__data_start; }
static inline uint64_t hal_data_end(void) { return (uint64_t)__data_end; }
static inline uint64_t hal_bss_start(void) { return (uint64_t)__bss_start; }
static inline uint64_t hal_bss_end(void) { return (uint64_t)__bss_end; }
static inline uint64_t hal_isr_stub(int vector) { return isr_stub_table[vector]; }

// ---- Probes (Boot/probe.asm) ---------------------------------------------------
int64_t hal_probe_read_byte(const void *address);
int64_t hal_probe_write_byte(void *address, uint8_t value);
int64_t hal_probe_execute(const void *address);
extern uint64_t hal_probe_execute_target;
extern char hal_probe_execute_fixup[];
extern uint64_t __extable_start[], __extable_end[];
static inline uint64_t hal_probe_execute_fixup_address(void) { return (uint64_t)hal_probe_execute_fixup; }
static inline uint64_t *hal_extable_start(void) { return __extable_start; }
static inline uint64_t *hal_extable_end(void) { return __extable_end; }
// The iretq of interrupt_return and its fixup (Boot/interrupts.asm).
extern char interrupt_return_iret[], iret_fault_fixup[];
static inline uint64_t hal_interrupt_return_iret_address(void) { return (uint64_t)interrupt_return_iret; }
static inline uint64_t hal_iret_fault_fixup_address(void) { return (uint64_t)iret_fault_fixup; }

// ---- Kernel heap storage (Boot/heap.asm) --------------------------------------
extern char heap_arena_start[], heap_metadata[];
extern const uint64_t heap_window_pages, heap_arena_pages;
static inline uint64_t hal_heap_window_start(void) { return (uint64_t)heap_arena_start; }
static inline uint64_t hal_heap_window_pages(void) { return heap_window_pages; }
static inline uint64_t hal_heap_arena_pages(void) { return heap_arena_pages; }
static inline void *hal_heap_metadata(void) { return heap_metadata; }

// ---- User mode (Boot/syscall.asm, Boot/usercopy.asm, Boot/interrupts.asm) ----
extern char syscall_entry[];
extern uint64_t syscall_kernel_rsp;
extern uint8_t smap_enabled;
static inline void hal_set_smap_enabled(int enabled) { smap_enabled = enabled ? 1 : 0; }
uint64_t hal_user_copy(void *destination, const void *source, uint64_t count);
static inline uint64_t hal_syscall_entry_address(void) { return (uint64_t)syscall_entry; }
extern char syscall_compat_entry[];
static inline uint64_t hal_syscall_compat_entry_address(void) { return (uint64_t)syscall_compat_entry; }
static inline void hal_set_syscall_kernel_stack(uint64_t top) { syscall_kernel_rsp = top; }

// ---- FPU/SSE state, switched lazily (Boot/fpu.asm, Boot/fpu.inc) ---------------
// current_fpu_state: the running task's fxsave area; fpu_owner_area: the
// area of the task whose state is live in the registers (NULL: none).
extern void *current_fpu_state, *fpu_owner_area;
void fpu_save_live_state(void *area);
static inline void hal_set_fpu_state_area(void *area) { current_fpu_state = area; }
static inline void *hal_fpu_owner_area(void) { return fpu_owner_area; }
static inline void hal_fpu_clear_owner(void) { fpu_owner_area = 0; }
// fxsave64 of the live registers into `area` (16-aligned, 512 bytes).
static inline void hal_fpu_save_live_state(void *area) { fpu_save_live_state(area); }

// ---- Stacks (Boot/gdt.asm) ------------------------------------------------------
void hal_run_on_stack(uint64_t stack_top, void (*function)(void)) __attribute__((noreturn));
