#!/usr/bin/env bash
# qemu/bench.sh: the same benchmark binaries (User/Programs/bench_*) on
# this kernel and on a Linux guest, in the same QEMU machine, side by side
# (`make bench-vs-linux`, part of `make bench`; bench/README.md).
#
# Runs, each a fresh boot: Linux and this kernel under -icount twice each
# (the figures, and their repeat), then once each under plain TCG (the wall
# column). Prints the table and writes bench/results/results.md,
# bench/results/ratios.png and the table in README.md's Benchmarks section
# (bench/report.py). The serial logs stay in
# $BUILD/bench/. Needs `make kernel initrd` first; installs the Linux
# kernel, cpio and matplotlib when missing (qemu/bench-deps.sh).
#
# BENCH_REPETITIONS (default 9): samples per figure. BENCH_QEMU_CPU: the
# CPU model (qemu/bench.conf). QEMU_BENCH_TIMEOUT (default 1800): per boot.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
repetitions=${BENCH_REPETITIONS:-9}
logs=$BUILD/bench
results=bench/results
mkdir -p "$logs" "$results"

qemu/bench-deps.sh
gcc -O2 -o "$logs/host-tsc-hz" bench/host-tsc-hz.c
source qemu/bench.conf

# step KERNEL MODE RUN: one boot, its log in $logs/KERNEL-MODE-RUN.log.
step() {
    local log=$logs/$1-$2-$3.log start=$SECONDS
    echo "bench: $1, $2, run $3 ..." >&2
    "qemu/bench-$1.sh" "$log" "$2" "$repetitions"
    echo "bench: $1, $2, run $3: $((SECONDS - start)) s" >&2
}
step linux icount 1
step ours icount 1
step linux icount 2
step ours icount 2
step linux wall 1
step ours wall 1
tsc_hz=$("$logs/host-tsc-hz")

vmlinuz=$(ls /boot/vmlinuz-* | sort -V | tail -1)
qemu_version=$(qemu-system-x86_64 --version | head -1 | sed 's/^QEMU emulator version //')
title="Measured $(date -u +%Y-%m-%d) by \`make bench\`: Linux $(basename "$vmlinuz" | sed 's/^vmlinuz-//') (Debian) vs this kernel (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)), QEMU $qemu_version TCG, \`-cpu $QEMU_CPU -m 512M\`, $repetitions repetitions; figures in guest instructions (\`-icount shift=0,sleep=off\`, pinned RTC); wall columns from plain TCG on a host TSC of $((tsc_hz / 1000000)) MHz."
/usr/bin/python3 bench/report.py --out "$results" --tsc-hz "$tsc_hz" --title "$title" \
    --linux "$logs/linux-icount-1.log" "$logs/linux-icount-2.log" \
    --ours "$logs/ours-icount-1.log" "$logs/ours-icount-2.log" \
    --linux-wall "$logs/linux-wall-1.log" --ours-wall "$logs/ours-wall-1.log" --readme README.md
echo "bench: wrote $results/results.md, $results/ratios.png and README.md's Benchmarks table" >&2
