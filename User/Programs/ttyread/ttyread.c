// User/Programs/ttyread: console reads into a 16-byte buffer that ends
// where its mapping ends (the next page unmapped), with count 4096. As
// Linux's tty_read, only the bytes the line fills must be writable: a
// short line reads whole, and a line longer than the buffer gives the 16
// bytes that fit (the count copied; the rest of the line is consumed).
// It prints "$ " before each read as its prompt, which is what the shell
// test (qemu/run-user-tests.sh) waits for before it sends the next line:
// there it reads "short" and then a 36-byte line. Last line: "ttyread: ok"
// or "ttyread: FAIL". Built with gcc -static -nostdlib on User/Runtime/ctest.h
// (its syscalls, printing and _start; not a test of `make test`'s user
// suites: the shell test runs it).

#include "ctest.h"

enum { BUFFER = 16, COUNT = 4096 };

// Reads one line into `buffer` with count COUNT; 1 if it returned
// `expected` bytes equal to `text`'s first bytes.
static int read_case(const char *what, char *buffer, const char *text, long expected) {
    ct_puts("$ ");
    long got = sc3(SYS_read, 0, (long)buffer, COUNT);
    ct_puts("ttyread: "); ct_puts(what); ct_puts(": "); ct_put_dec(got); ct_puts(" bytes\n");
    if (got != expected) return 0;
    for (long i = 0; i < expected; i++) if (buffer[i] != text[i]) return 0;
    return 1;
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    char *base = sys_mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    int ok = !mmap_failed(base) && sc3(SYS_munmap, (long)(base + PAGE_SIZE), PAGE_SIZE, 0) == 0;
    char *buffer = base + PAGE_SIZE - BUFFER;
    ok = ok && read_case("short line", buffer, "short\n", 6);
    ok = ok && read_case("long line", buffer, "a-line-longer-than-its-16-byte-buffer", BUFFER);
    ct_puts(ok ? "ttyread: ok\n" : "ttyread: FAIL\n");
    check("ttyread", ok, "a console read did not copy what its line filled");
    return 0;
}
