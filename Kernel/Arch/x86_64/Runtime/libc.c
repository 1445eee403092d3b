// The few C library symbols the Embedded Swift kernel links against.
//
// Measured in ../shared/notes/embedded-swift-x86_64.md: the embedded stdlib
// calls memset/memcpy/memmove/memcmp/strlen, posix_memalign/free (classes,
// arrays, strings) and arc4random_buf (hashing seeds). Compiled with
// -ffreestanding -fno-builtin so the compiler cannot turn a loop here back
// into a call to the function being defined, and -mgeneral-regs-only like
// the whole kernel (Boot/fpu.inc): no float or double here. The stdlib's
// Dictionary also wants `ceil` (its growth policy computes in Double); the
// kernel uses PageIndexMap instead (Kernel/VM/PageIndexMap.swift). A
// Dictionary in kernel code would bring back x87 code and a call to ceil:
// the link or Linker/check-no-fpu.sh fails then.
#include <stddef.h>
#include <stdint.h>

// Kernel heap, implemented in Swift (Kernel/Memory/KernelHeap.swift).
extern void *kernel_heap_allocate(size_t size, size_t alignment);
extern void kernel_heap_free(void *pointer);

// memset and memcpy move 8 bytes per `rep` iteration for the bulk and
// bytes only for the tail: frames are zeroed and copied 4 KiB at a time,
// and under QEMU's -icount each `rep` iteration counts as one instruction
// (a page costs 4,105 with stosb, 521 with stosq).
void *memset(void *dest, int value, size_t count) {
    void *d = dest;
    size_t words = count / 8, tail = count % 8;
    uint64_t pattern = (uint8_t)value * 0x0101010101010101ull;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(pattern) : "memory");
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(pattern) : "memory");
    return dest;
}

void *memcpy(void *dest, const void *src, size_t count) {
    void *d = dest;
    size_t words = count / 8, tail = count % 8;
    __asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(words) : : "memory");
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(tail) : : "memory");
    return dest;
}

void *memmove(void *dest, const void *src, size_t count) {
    unsigned char *d = dest;
    const unsigned char *s = src;
    if (d == s || count == 0) return dest;
    if (d < s || d >= s + count) return memcpy(dest, src, count);
    // Overlapping with dest above src: copy backwards.
    d += count - 1;
    s += count - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(count) : : "memory");
    return dest;
}

int memcmp(const void *a, const void *b, size_t count) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < count; i++) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    void *p = kernel_heap_allocate(size, alignment);
    if (!p) return 12;  // ENOMEM
    *result = p;
    return 0;
}

void free(void *pointer) {
    if (pointer) kernel_heap_free(pointer);
}

// Seeds for Swift's hashing. Not cryptographic: a xorshift over the TSC.
void arc4random_buf(void *buffer, size_t count) {
    static uint64_t state;
    if (state == 0) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        state = (((uint64_t)hi << 32) | lo) | 1;
    }
    unsigned char *out = buffer;
    for (size_t i = 0; i < count; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out[i] = (unsigned char)state;
    }
}
