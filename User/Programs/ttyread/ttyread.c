// User/Programs/ttyread: console reads into a 16-byte buffer that ends
// where its mapping ends (the next page unmapped), with count 4096. As
// Linux's tty_read, only the bytes the line fills must be writable: a
// short line reads whole, and a line longer than the buffer gives the 16
// bytes that fit (the count copied; the rest of the line is consumed).
// It prints "$ " before each read as its prompt, which is what the shell
// test (qemu/run-user-tests.sh) waits for before it sends the next line:
// there it reads "short" and then a 36-byte line. Last line: "ttyread: ok"
// or "ttyread: FAIL ...". Built with gcc -static -nostdlib, no library.

enum { SYS_READ = 0, SYS_WRITE = 1, SYS_MMAP = 9, SYS_MUNMAP = 11, SYS_EXIT_GROUP = 231 };
enum { PAGE = 4096, BUFFER = 16, PROT_RW = 3, MAP_PRIVATE_ANONYMOUS = 0x22 };

static long syscall6(long n, long a, long b, long c, long d, long e, long f) {
    long result;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(result) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return result;
}

static long length(const char *s) { long n = 0; while (s[n]) n++; return n; }
static void say(const char *s) { syscall6(SYS_WRITE, 1, (long)s, length(s), 0, 0, 0); }
static void say_number(long v) {
    char digits[24]; int n = 0;
    if (v < 0) { say("-"); v = -v; }
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    char out[24]; int k = 0;
    while (n) out[k++] = digits[--n];
    out[k] = 0;
    say(out);
}

// Reads one line into `buffer` with count 4096; 1 if it returned `expected`
// bytes equal to `text`'s first bytes.
static int read_case(const char *what, char *buffer, const char *text, long expected) {
    say("$ ");
    long got = syscall6(SYS_READ, 0, (long)buffer, 4096, 0, 0, 0);
    say("ttyread: "); say(what); say(": "); say_number(got); say(" bytes\n");
    if (got != expected) return 0;
    for (long i = 0; i < expected; i++) if (buffer[i] != text[i]) return 0;
    return 1;
}

__attribute__((noreturn, force_align_arg_pointer)) void _start(void) {
    char *base = (char *)syscall6(SYS_MMAP, 0, 2 * PAGE, PROT_RW, MAP_PRIVATE_ANONYMOUS, -1, 0);
    int ok = (unsigned long)base < (unsigned long)-4096 && syscall6(SYS_MUNMAP, (long)(base + PAGE), PAGE, 0, 0, 0, 0) == 0;
    char *buffer = base + PAGE - BUFFER;
    ok = ok && read_case("short line", buffer, "short\n", 6);
    ok = ok && read_case("long line", buffer, "a-line-longer-than-its-16-byte-buffer", BUFFER);
    say(ok ? "ttyread: ok\n" : "ttyread: FAIL\n");
    for (;;) syscall6(SYS_EXIT_GROUP, ok ? 0 : 1, 0, 0, 0, 0, 0);
}
