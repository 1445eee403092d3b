#!/usr/bin/env bash
# qemu/debug.sh ISO KERNEL.elf
#
# Boots ISO in QEMU halted at the first instruction, with a GDB server on
# localhost:1234, and attaches gdb with the kernel's symbols, stopped at
# kernel_main. QEMU's serial console goes to $BUILD/debug-serial.log
# (BUILD defaults to build).
set -uo pipefail
iso=$1; elf=$2
here=$(cd "$(dirname "$0")" && pwd)
serial_log=${BUILD:-build}/debug-serial.log
QEMU_CONSOLE="file,id=console,path=$serial_log"
source "$here/qemu.conf"

args=("${QEMU_ARGS[@]}")
if ! command -v gdb >/dev/null 2>&1; then
    echo "gdb is not installed: apt-get install gdb, then run 'make debug' again."
    echo "Or start QEMU yourself and attach any debugger to localhost:1234:"
    echo "  qemu-system-x86_64 ${args[*]} -cdrom $iso -s -S"
    exit 1
fi

timeout --foreground "${QEMU_TIMEOUT:-3600}" qemu-system-x86_64 "${args[@]}" -cdrom "$iso" -s -S &
qemu=$!
trap 'kill $qemu 2>/dev/null' EXIT
echo "QEMU is waiting for gdb; the serial console goes to $serial_log (tail -f it)."
# A hardware breakpoint: the kernel's pages are not mapped until GRUB ran.
gdb -q "$elf" \
    -ex "set confirm off" \
    -ex "target remote localhost:1234" \
    -ex "hbreak kernel_main" \
    -ex "continue"
