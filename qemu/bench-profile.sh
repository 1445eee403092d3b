#!/usr/bin/env bash
# qemu/bench-profile.sh "PROGRAM ARGS" [TOP]: where this kernel's
# instructions go while PROGRAM runs as init, from QEMU's own logging
# (-d in_asm,exec,nochain, filtered to the kernel image): guest
# instructions per kernel function, minus a boot that runs only
# bench_exec_target (the boot and the shutdown), the TOP (default 25) first.
# Same machine as `make bench` (qemu/bench.conf, icount mode). Needs `make
# kernel initrd`. Example:
#     qemu/bench-profile.sh "/bin/bench_fork 1 quick"
# The logs (hundreds of MB) go to $BUILD/bench/profile-*.qemu.log.
set -euo pipefail
command=$1 top=${2:-25}
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
source qemu/bench.conf
mkdir -p "$BUILD/bench"
# The kernel is linked at KERNEL_VMA (Linker/kernel.ld): log only there.
kernel_range=0x7f8000000000+0x40000000

# profile NAME COMMAND: one boot of COMMAND as init, logged.
profile() {
    local iso=$BUILD/bench/profile-$1.iso
    qemu/make-iso.sh "$iso" "$BUILD/kernel.elf" "init=\"$2\"" "$BUILD/initrd.tar:initrd" >/dev/null
    QEMU_MEMORY_MIB=512 QEMU_TIMEOUT=${QEMU_BENCH_TIMEOUT:-1800} qemu/run-qemu.sh "$iso" \
        $(bench_mode_args icount) -d in_asm,exec,nochain -dfilter "$kernel_range" \
        -D "$BUILD/bench/profile-$1.qemu.log" </dev/null >"$BUILD/bench/profile-$1.serial.log" 2>&1 \
        || { echo "bench-profile: the boot of \"$2\" failed; see $BUILD/bench/profile-$1.serial.log" >&2; exit 1; }
}
profile baseline /bin/bench_exec_target
profile run "$command"
/usr/bin/python3 bench/profile.py --kernel "$BUILD/kernel.elf" --top "$top" \
    --baseline "$BUILD/bench/profile-baseline.qemu.log" "$BUILD/bench/profile-run.qemu.log"
