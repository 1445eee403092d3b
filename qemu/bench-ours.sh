#!/usr/bin/env bash
# qemu/bench-ours.sh LOG MODE REPETITIONS [quick]: the benchmark programs on
# this kernel, booted through its own GRUB ISO with /bin/bench_run as init,
# in the same QEMU machine as the Linux peer (qemu/qemu.conf with -m 512M,
# plus qemu/bench.conf's MODE: "icount" or "wall"). Needs `make kernel
# initrd` first. The serial output goes to LOG; fails unless every
# benchmark program exited 0 and the kernel reported success.
set -uo pipefail
log=$1 mode=$2 repetitions=$3 quick=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
BUILD=${BUILD:-build}
source qemu/bench.conf
mkdir -p "$BUILD/bench"
iso=$BUILD/bench/ours.iso
qemu/make-iso.sh "$iso" "$BUILD/kernel.elf" "init=\"/bin/bench_run $repetitions${quick:+ $quick}\"" \
    "$BUILD/initrd.tar:initrd" >"$log" 2>&1 || { echo "bench-ours: could not build $iso; see $log" >&2; exit 1; }
QEMU_MEMORY_MIB=512 QEMU_TIMEOUT=${QEMU_BENCH_TIMEOUT:-1800} \
    qemu/run-qemu.sh "$iso" $(bench_mode_args "$mode") </dev/null >"$log" 2>&1
status=$?
tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
[ $status -eq 0 ] || { echo "bench-ours: QEMU ended with status $status; see $log" >&2; exit 1; }
grep -q "BENCHRUN done failed=0" "$log" || { echo "bench-ours: a benchmark failed; see $log" >&2; exit 1; }
