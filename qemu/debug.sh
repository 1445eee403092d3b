#!/usr/bin/env bash
# qemu/debug.sh ISO KERNEL.elf
#
# Boots ISO in QEMU halted at the first instruction, with a GDB server on
# localhost:$GDB_PORT (default 1234), and attaches gdb with the kernel's
# symbols and the helpers of qemu/gdbinit (kcurrent, ktasks, kvmas, kpt),
# stopped at kernel_main. QEMU's serial console goes to
# $BUILD/debug-serial.log (BUILD defaults to build): `tail -f` it.
set -uo pipefail
iso=$1; elf=$2
here=$(cd "$(dirname "$0")" && pwd)
serial_log=${BUILD:-build}/debug-serial.log
port=${GDB_PORT:-1234}
QEMU_CONSOLE="file,id=console,path=$serial_log"
source "$here/qemu.conf"

args=("${QEMU_ARGS[@]}" -cdrom "$iso" -gdb "tcp:127.0.0.1:$port" -S)
if ! command -v gdb >/dev/null 2>&1; then
    echo "gdb is not installed: apt-get install gdb (or make deps), then run 'make debug' again."
    echo "Or start QEMU yourself and attach any debugger to localhost:$port:"
    echo "  qemu-system-x86_64 ${args[*]}"
    exit 1
fi

timeout --foreground "${QEMU_TIMEOUT:-3600}" qemu-system-x86_64 "${args[@]}" &
qemu=$!
trap 'kill $qemu 2>/dev/null' EXIT
echo "QEMU is waiting for gdb; the serial console goes to $serial_log (tail -f it)."
# A hardware breakpoint: the kernel's pages are not mapped until GRUB ran.
gdb -q -x "$here/gdbinit" "$elf" \
    -ex "target remote localhost:$port" \
    -ex "hbreak kernel_main" \
    -ex "continue"
