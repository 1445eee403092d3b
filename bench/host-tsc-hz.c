// bench/host-tsc-hz.c: the host's TSC rate in Hz, printed as one integer
// (rdtsc over 200 ms of CLOCK_MONOTONIC). Plain TCG's guest rdtsc reads the
// host TSC, so this turns `make bench`'s wall-mode figures into nanoseconds.
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now_seconds(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec * 1e-9;
}

int main(void) {
    const double interval = 0.2;
    double start = now_seconds();
    unsigned long long start_ticks = __rdtsc();
    while (now_seconds() - start < interval) {}
    unsigned long long ticks = __rdtsc() - start_ticks;
    printf("%.0f\n", (double)ticks / (now_seconds() - start));
    return 0;
}
