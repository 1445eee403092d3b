#!/usr/bin/env bash
# Linker/check-image.sh KERNEL.elf
#
# Fails the build loudly when the linked kernel breaks a rule that the
# toolchain would otherwise let through silently
# (../shared/notes/embedded-swift-x86_64.md):
#   1. the image (and so the heap window after it) must end below 2^47,
#      or Swift's spare-bit tricks on object pointers corrupt them;
#   2. no function may touch the red zone (memory below %rsp): interrupts
#      are taken on the same stack and would clobber it.
set -euo pipefail
elf=$1
objdump=${OBJDUMP:-llvm-objdump}
nm=${NM:-llvm-nm}
fail=0

limit=$((1 << 47))
end_hex=$($nm "$elf" | awk '$3 == "__kernel_end" { print $1 }')
heap_pages=$((256 * 1024 * 1024 / 4096))
if [ -z "$end_hex" ]; then
    echo "check-image: __kernel_end not found in $elf" >&2; exit 1
fi
end=$((16#$end_hex))
if (( end + heap_pages * 4096 > limit )); then
    printf 'check-image: FAIL: kernel image and heap end at 0x%x, at or above 2^47 (0x%x).\n' \
        $((end + heap_pages * 4096)) $limit >&2
    fail=1
fi

# Any memory operand at a negative offset from %rsp is a red-zone access.
redzone=$($objdump -d --no-show-raw-insn "$elf" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2 }
    /-0x[0-9a-f]+\(%rsp\)/ { print "  " fn " " $0 }' | head -20)
if [ -n "$redzone" ]; then
    echo "check-image: FAIL: these instructions use the red zone (below %rsp):" >&2
    echo "$redzone" >&2
    echo "Build the kernel with -Xcc -mno-red-zone and optimisation on (see the toolchain notes)." >&2
    fail=1
fi

exit $fail
