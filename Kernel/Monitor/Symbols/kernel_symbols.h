// The kernel's own symbol table, for symbolized backtraces.
//
// The build links the kernel twice (Makefile, Linker/make-symbol-table.sh):
// the first link uses an empty table; its function symbols, demangled with
// `swift demangle --simplified`, become the table of the second link. The
// table lives in .rodata, after .text, so adding it moves no function; the
// build checks that both links have the same function addresses.
//
// Invariant: kernel_symbol_table is sorted by address (ascending) and has
// kernel_symbol_count entries.
#pragma once
#include <stdint.h>

struct kernel_symbol {
    uint64_t address;
    const char *name;   // NUL-terminated, demangled where possible
};

extern const struct kernel_symbol kernel_symbol_table[];
extern const uint64_t kernel_symbol_count;

/// Contract: index < kernel_symbol_count.
static inline const struct kernel_symbol *kernel_symbol_at(uint64_t index) { return &kernel_symbol_table[index]; }
static inline uint64_t kernel_symbols_count(void) { return kernel_symbol_count; }
