// User/Tests/console_write: one huge write() to the console cannot freeze
// the machine (review finding 4).
//
// A child writes WRITE_BYTES of filler lines to stdout with one write()
// call, then loops on short counts until all is written. SwiftKernel caps
// one console write (ConsoleDevice.maximumWriteBytes) and returns a short
// count; Linux writes a file or tty in full. Meanwhile the parent spins
// and counts on how many distinct timer ticks (CLOCK_MONOTONIC / 10 ms) it
// saw the writer still alive: with a write that kept interrupts off to the
// end, the parent would only run again once the writer is gone. The count
// is a scheduling fact, not a time limit.
#include "ctest.h"

enum { WRITE_BYTES = 1 << 19, LINE = 64, TICK_NS = 10000000, MIN_TICKS_ALIVE = 3 };
enum { WROTE_SHORT = 0, WROTE_IN_FULL = 1, WRITE_FAILED = 2 };

static char filler[WRITE_BYTES];

static long now_ns(void) {
    long ts[2];
    sc6(SYS_clock_gettime, 1, (long)ts, 0, 0, 0, 0);
    return ts[0] * 1000000000L + ts[1];
}

static void writer(u64 unused) {
    (void)unused;
    long first = sc3(SYS_write, 1, (long)filler, WRITE_BYTES);
    if (first <= 0 || first > WRITE_BYTES) sys_exit(WRITE_FAILED);
    long done = first;
    while (done < WRITE_BYTES) {
        long n = sc3(SYS_write, 1, (long)(filler + done), WRITE_BYTES - done);
        if (n <= 0) sys_exit(WRITE_FAILED);
        done += n;
    }
    sys_exit(first < WRITE_BYTES ? WROTE_SHORT : WROTE_IN_FULL);
}

int test_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int swift = on_swiftkernel();
    for (int i = 0; i < WRITE_BYTES; i++) filler[i] = (i % LINE == LINE - 1) ? '\n' : '~';
    long pid = sc0(SYS_fork);
    if (pid == 0) writer(0);
    if (pid <= 0) { check("fork", 0, "fork failed"); return 0; }
    long ticks_alive = 0, last_tick = -1, started = now_ns();
    int status = 0;
    for (;;) {
        long r = sc6(SYS_wait4, pid, (long)&status, 1 /* WNOHANG */, 0, 0, 0);
        if (r == pid) break;
        if (r != 0) { check("wait4", 0, "wait4 failed"); return 0; }
        long tick = now_ns() / TICK_NS;
        if (tick != last_tick) { ticks_alive++; last_tick = tick; }
    }
    long elapsed_ms = (now_ns() - started) / 1000000;
    ct_puts("note: "); ct_put_dec(WRITE_BYTES); ct_puts(" bytes written in "); ct_put_dec(elapsed_ms);
    ct_puts(" ms; the spinning parent ran on "); ct_put_dec(ticks_alive); ct_puts(" ticks meanwhile\n");
    if (swift) {
        expect_status("huge-console-write-returns-a-short-count", status, 0, WROTE_SHORT);
        check("spinning-sibling-scheduled-during-the-write", ticks_alive >= MIN_TICKS_ALIVE,
              "the parent did not run while the writer was busy");
    } else {
        check("huge-write-completes", status_exited(status) && status_code(status) != WRITE_FAILED,
              "the writer failed");
    }
    return 0;
}
