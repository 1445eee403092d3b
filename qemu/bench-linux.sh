#!/usr/bin/env bash
# qemu/bench-linux.sh LOG MODE REPETITIONS: the benchmark programs on the
# Linux peer (Debian's linux-image-amd64, qemu/bench-deps.sh), in the same
# QEMU machine as this kernel (qemu/qemu.conf, plus qemu/bench.conf).
#
# The initramfs (a newc cpio, built here) holds bin/bench_* and
# dev/console; the kernel runs /bin/bench_run as init (rdinit=), which runs
# every benchmark and powers off. MODE is "icount" (one rdtsc tick = one
# guest instruction) or "wall" (plain TCG: rdtsc is the host's TSC). The
# serial output goes to LOG. BUILD (default build) has the user binaries.
set -euo pipefail
log=$1 mode=$2 repetitions=$3
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
BUILD=${BUILD:-build}
QEMU_MEMORY_MIB=512
source qemu/bench.conf  # first: it sets the CPU model qemu.conf puts in QEMU_ARGS
source qemu/qemu.conf

vmlinuz=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$vmlinuz" ] || { echo "bench-linux: no /boot/vmlinuz-*; run qemu/bench-deps.sh" >&2; exit 1; }

# The initramfs. dev/console must exist, or init starts with no stdout;
# creating the node needs root (the bench setup runs as root anyway).
root=$BUILD/bench/linux-root
rm -rf "$root" && mkdir -p "$root/bin" "$root/dev"
cp "$BUILD"/user/bin/bench_* "$root/bin/"
mknod -m 600 "$root/dev/console" c 5 1
touch -h -d @0 "$root" "$root"/* "$root"/*/*  # the same archive, byte for byte, every time
cpio_file=$BUILD/bench/linux-initramfs.cpio
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible -R 0:0) > "$cpio_file"

append="console=ttyS0 transparent_hugepage=never quiet panic=-1 rdinit=/bin/bench_run -- $repetitions poweroff"
timeout --foreground "${QEMU_BENCH_TIMEOUT:-1800}" \
    qemu-system-x86_64 "${QEMU_ARGS[@]}" $(bench_mode_args "$mode") \
    -kernel "$vmlinuz" -initrd "$cpio_file" -append "$append" </dev/null >"$log" 2>&1 || {
    echo "bench-linux: QEMU failed or timed out (status $?); see $log" >&2; exit 1; }
tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
grep -q "BENCHRUN done failed=0" "$log" || { echo "bench-linux: a benchmark failed; see $log" >&2; exit 1; }
