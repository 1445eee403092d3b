// User/Runtime/libc.c: the C library symbols an Embedded Swift user program
// links against, plus buffered stdout and process exit.
//
// Design: the embedded stdlib calls memset/memcpy/memmove/memcmp/strlen,
// putchar (print), posix_memalign/free (classes, arrays, strings),
// arc4random_buf and ceil (hashing). They are written here in plain C over
// the raw system-call gate, with no libc underneath, so the same static
// binary runs on Linux and on our kernel.
//
// The heap is a static arena in .bss handed out in power-of-two size classes
// with one free list per class: no brk (the brk test owns the break) and no
// mmap unless the arena runs out (the mmap test counts on a clean address
// space). Output is line-buffered so one line is one write(2), which keeps
// lines of forked processes from interleaving mid-line.
#include <stddef.h>
#include <stdint.h>
#include "C/userrt.h"

enum {
    SYS_WRITE = 1,
    SYS_MMAP = 9,
    SYS_EXIT_GROUP = 231,
    STDOUT_FD = 1,
    OUT_BUFFER_SIZE = 1024,
    ENOMEM_CODE = 12,
    EINVAL_CODE = 22,
    EINTR_CODE = 4,
    AT_NULL = 0,
    AT_RANDOM = 25,
    PROT_READ_WRITE = 3,
    MAP_PRIVATE_ANONYMOUS = 0x22,
    PAGE_SIZE = 4096,
};

// ---- memory and string primitives -------------------------------------

// Fills `count` bytes at `dest` with `value`; returns dest.
void *memset(void *dest, int value, size_t count) {
    void *d = dest;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(count) : "a"(value) : "memory");
    return dest;
}

// Copies `count` bytes; the ranges must not overlap. Returns dest.
void *memcpy(void *dest, const void *src, size_t count) {
    void *d = dest;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(count) : : "memory");
    return dest;
}

// Copies `count` bytes; the ranges may overlap. Returns dest.
void *memmove(void *dest, const void *src, size_t count) {
    unsigned char *d = dest;
    const unsigned char *s = src;
    if (d == s || count == 0) return dest;
    if (d < s || d >= s + count) return memcpy(dest, src, count);
    d += count - 1;
    s += count - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(count) : : "memory");
    return dest;
}

// Compares `count` bytes as unsigned; returns <0, 0 or >0.
int memcmp(const void *a, const void *b, size_t count) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < count; i++) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

// Length of the NUL-terminated string `s`.
size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

// Smallest integral value not less than x (Swift's Dictionary sizing).
double ceil(double x) {
    const double two52 = 4503599627370496.0;  // beyond this every double is integral
    if (!(x < two52 && x > -two52)) return x;  // also NaN
    double t = (double)(int64_t)x;
    return t < x ? t + 1.0 : t;
}

// ---- buffered stdout ---------------------------------------------------

static unsigned char out_buffer[OUT_BUFFER_SIZE];
static size_t out_used;

// Writes all of [bytes, bytes+count) to `fd`, retrying short writes and
// EINTR; gives up silently on any other error (nowhere to report it).
static void write_all(int fd, const unsigned char *bytes, size_t count) {
    while (count > 0) {
        long n = user_syscall6(SYS_WRITE, fd, (long)bytes, (long)count, 0, 0, 0);
        if (n == -EINTR_CODE) continue;
        if (n <= 0) return;
        bytes += n;
        count -= (size_t)n;
    }
}

void user_out_flush(void) {
    write_all(STDOUT_FD, out_buffer, out_used);
    out_used = 0;
}

void user_out_write(const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    int saw_newline = 0;
    for (size_t i = 0; i < count; i++) {
        if (out_used == OUT_BUFFER_SIZE) user_out_flush();
        out_buffer[out_used++] = p[i];
        if (p[i] == '\n') saw_newline = 1;
    }
    if (saw_newline) user_out_flush();
}

// Swift's print() ends up here, one character at a time. Returns c.
int putchar(int c) {
    unsigned char byte = (unsigned char)c;
    user_out_write(&byte, 1);
    return c;
}

_Noreturn void user_exit(int status) {
    user_out_flush();
    for (;;) user_syscall6(SYS_EXIT_GROUP, status, 0, 0, 0, 0, 0);
}

// ---- heap: power-of-two classes over a static arena ---------------------

enum {
    HEAP_ARENA_SIZE = 128 * 1024,   // small: a kernel without COW copies it on every fork
    HEAP_MIN_CLASS = 5,            // 32-byte blocks
    HEAP_MAX_CLASS = 40,
    HEAP_HEADER_SIZE = 16,
    HEAP_BASE_ALIGNMENT = 16,
    HEAP_MAGIC = 0x48454150,       // "HEAP"
};

// Sits right before every pointer handed out.
struct heap_header {
    uint32_t magic;
    uint32_t size_class;           // block size is 1 << size_class
    uint64_t offset;               // user pointer minus block start
};

struct free_block { struct free_block *next; };

static _Alignas(PAGE_SIZE) unsigned char heap_arena[HEAP_ARENA_SIZE];
static size_t heap_bump;
static struct free_block *heap_free_lists[HEAP_MAX_CLASS + 1];

size_t user_heap_unused(void) { return HEAP_ARENA_SIZE - heap_bump; }

// Returns a fresh block of 1 << size_class bytes (16-byte aligned) from the
// arena, or from an anonymous mapping once the arena is used up; NULL if
// neither has room.
static void *heap_new_block(unsigned size_class) {
    size_t size = (size_t)1 << size_class;
    if (size <= HEAP_ARENA_SIZE - heap_bump) {
        void *block = heap_arena + heap_bump;
        heap_bump += size;
        return block;
    }
    size_t length = (size + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
    long address = user_syscall6(SYS_MMAP, 0, (long)length, PROT_READ_WRITE,
                                 MAP_PRIVATE_ANONYMOUS, -1, 0);
    if (address < 0 && address > -PAGE_SIZE) return NULL;
    return (void *)address;
}

// Stores in *result a block of at least `size` bytes aligned to `alignment`
// (a power of two, multiple of sizeof(void*)); returns 0, EINVAL or ENOMEM.
int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) return EINVAL_CODE;
    if (alignment < HEAP_BASE_ALIGNMENT) alignment = HEAP_BASE_ALIGNMENT;
    if (size > ((size_t)1 << (HEAP_MAX_CLASS - 1))) return ENOMEM_CODE;
    size_t needed = size + HEAP_HEADER_SIZE + (alignment - HEAP_BASE_ALIGNMENT);
    unsigned size_class = HEAP_MIN_CLASS;
    while (((size_t)1 << size_class) < needed) size_class++;

    void *block;
    if (heap_free_lists[size_class]) {
        struct free_block *head = heap_free_lists[size_class];
        heap_free_lists[size_class] = head->next;
        block = head;
    } else {
        block = heap_new_block(size_class);
        if (!block) return ENOMEM_CODE;
    }
    uintptr_t start = (uintptr_t)block;
    uintptr_t user = (start + HEAP_HEADER_SIZE + alignment - 1) & ~(uintptr_t)(alignment - 1);
    struct heap_header *header = (struct heap_header *)(user - HEAP_HEADER_SIZE);
    header->magic = HEAP_MAGIC;
    header->size_class = size_class;
    header->offset = user - start;
    *result = (void *)user;
    return 0;
}

// Returns a block from posix_memalign to its class's free list. NULL is a
// no-op; a pointer without a valid header is ignored rather than corrupting
// the lists.
void free(void *pointer) {
    if (!pointer) return;
    struct heap_header *header = (struct heap_header *)((uintptr_t)pointer - HEAP_HEADER_SIZE);
    if (header->magic != HEAP_MAGIC || header->size_class > HEAP_MAX_CLASS) return;
    header->magic = 0;
    struct free_block *block = (struct free_block *)((uintptr_t)pointer - header->offset);
    block->next = heap_free_lists[header->size_class];
    heap_free_lists[header->size_class] = block;
}

// ---- randomness for hashing seeds ---------------------------------------

// Returns the AT_RANDOM pointer from the auxiliary vector, or NULL.
static const uint64_t *auxv_random_bytes(void) {
    uint64_t *sp = (uint64_t *)user_initial_stack;
    if (!sp) return NULL;
    uint64_t argc = sp[0];
    uint64_t *p = sp + 1 + argc + 1;       // envp
    while (*p) p++;
    for (p++; p[0] != AT_NULL; p += 2) {
        if (p[0] == AT_RANDOM) return (const uint64_t *)p[1];
    }
    return NULL;
}

// Fills `buffer` with `count` pseudo-random bytes: xorshift64 seeded from
// AT_RANDOM and the TSC. Good enough for hash seeds; not cryptographic.
void arc4random_buf(void *buffer, size_t count) {
    static uint64_t state;
    if (state == 0) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        state = ((uint64_t)hi << 32) | lo;
        const uint64_t *random = auxv_random_bytes();
        if (random) state ^= random[0] ^ random[1];
        state |= 1;
    }
    unsigned char *out = buffer;
    for (size_t i = 0; i < count; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out[i] = (unsigned char)state;
    }
}
