// User/Tests/abi32: arguments Linux declares `int` or `unsigned int`, and
// the syscall number itself, use only their low 32 bits (review finding 8).
// Every call below passes garbage in bits 63..32 of such a register; the
// expected results are what Linux gives (it ignores those bits).
#include "ctest.h"

#define GARBAGE 0xdeadbeef00000000L
enum { O_RDONLY = 0, O_DIRECTORY = 0200000, WNOHANG = 1 };

static char dirents[4096] __attribute__((aligned(8)));

static void exit_seven(u64 unused) { (void)unused; sys_exit(7); }

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long me = sc0(SYS_getpid);
    check_equal("number-upper-half-ignored", sc0(0x100000000L | SYS_getpid), me);
    check_equal("number-sign-bit-ignored", sc0((long)(0x8000000000000000UL | SYS_getpid)), me);
    check_equal("negative-number-enosys", sc0(-1), -ENOSYS);
    check_equal("number-low-half-negative-enosys", sc0(0x00000000ffffff00L), -ENOSYS);

    char byte = 'x';
    check_equal("write-fd-upper-half-ignored", sc3(SYS_write, GARBAGE | 1, (long)&byte, 0), 0);
    check_equal("read-fd-upper-half-ignored", sc3(SYS_read, GARBAGE | 0, (long)&byte, 0), 0);
    check_equal("write-fd-low-half-bad", sc3(SYS_write, 0x1ffffffffL, (long)&byte, 1), -EBADF);

    long root = sc3(SYS_open, (long)"/", GARBAGE | O_RDONLY | O_DIRECTORY, 0);
    check("open-flags-upper-half-ignored", root >= 0, "open(\"/\", O_DIRECTORY | garbage) failed");
    long bin = sc6(SYS_openat, GARBAGE | root, (long)"bin", GARBAGE | O_RDONLY | O_DIRECTORY, 0, 0, 0);
    check("openat-dfd-and-flags-upper-half-ignored", bin >= 0, "openat(root | garbage, \"bin\") failed");
    long n = sc3(SYS_getdents64, GARBAGE | root, (long)dirents, (1L << 32) + 64);
    check("getdents64-count-is-unsigned-int", n > 0 && n <= 64, "returned more than 64 bytes or failed");
    check_equal("close-fd-upper-half-ignored", sc1(SYS_close, GARBAGE | root), 0);
    if (bin >= 0) check_equal("close-second-fd", sc1(SYS_close, (long)(0xffffffff00000000UL | (u64)bin)), 0);
    check_equal("close-fd-low-half-bad", sc1(SYS_close, 0x100000063L), -EBADF);

    long ts[2] = {0, 0};
    check_equal("clock-id-upper-half-ignored", sc3(SYS_clock_gettime, GARBAGE | 1, (long)ts, 0), 0);

    long child = sc0(SYS_fork);
    if (child == 0) exit_seven(0);
    int status = 0;
    // pid 0xffffffff is -1 (any child); options GARBAGE | 0 is 0 (block).
    long reaped = sc6(SYS_wait4, 0xffffffffL, (long)&status, GARBAGE, 0, 0, 0);
    check_equal("wait4-pid-and-options-are-int", reaped, child);
    expect_status("wait4-status", status, 0, 7);

    // wait4 details (review finding 10), as Linux's kernel_wait4.
    check_equal("wait4-int-min-esrch", sc6(SYS_wait4, 0x80000000L, 0, 0, 0, 0, 0), -3 /* ESRCH */);
    child = sc0(SYS_fork);
    if (child == 0) exit_seven(0);
    check_equal("wait4-wclone-only-finds-no-fork-child", sc6(SYS_wait4, child, (long)&status, 0x80000000L, 0, 0, 0), -ECHILD);
    check_equal("wait4-wall-accepted", sc6(SYS_wait4, child, (long)&status, 0x40000000L | 0x20000000L, 0, 0, 0), child);
    child = sc0(SYS_fork);
    if (child == 0) exit_seven(0);
    check_equal("wait4-bad-status-efault", sc6(SYS_wait4, child, 1, 0, 0, 0, 0), -EFAULT);
    check_equal("wait4-bad-status-still-reaped", sc6(SYS_wait4, child, (long)&status, WNOHANG, 0, 0, 0), -ECHILD);
    return 0;
}
