#!/usr/bin/env bash
# qemu/run-qemu.sh ISO [extra QEMU arguments...]
#
# Boots ISO in QEMU (TCG, never KVM) with the serial console on stdio,
# under `timeout` (QEMU_TIMEOUT seconds, default 3600). Exit status:
#   0    the kernel powered off normally (isa-debug-exit 0x10 -> 33)
#   1    the kernel reported a failure (0x11 -> 35)
#   2    kernel panic (0x12 -> 37)
#   3    QEMU stopped without the kernel saying so: Ctrl-A X or a triple fault (exits 0
#        under -no-reboot) or a QEMU error
#   124  timeout
# Any status but 0 is also said on stderr as "run-qemu: exit status N: WHY",
# the last line before make's own error line (the QEMU tests read it back).
set -uo pipefail
iso=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
source "$here/qemu.conf"

timeout --foreground "${QEMU_TIMEOUT:-3600}" \
    qemu-system-x86_64 "${QEMU_ARGS[@]}" -cdrom "$iso" "$@"
status=$?
why() { echo "run-qemu: exit status $1: $2" >&2; exit "$1"; }
case $status in
    33) exit 0 ;;
    35) why 1 "the kernel reported failure" ;;
    37) why 2 "kernel panic" ;;
    124) why 124 "timed out after ${QEMU_TIMEOUT:-3600}s" ;;
    0) why 3 "QEMU exited without a kernel status (Ctrl-A X, or a triple fault)" ;;
    *) why 3 "QEMU exited with status $status" ;;
esac
