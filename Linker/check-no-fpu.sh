#!/usr/bin/env bash
# Linker/check-no-fpu.sh FILE...
#
# Fails (status 1) when any instruction in FILE (the linked kernel, or any
# object) touches x87, MMX, SSE or AVX state outside the allow-list below.
# The kernel runs with the interrupted user task's FPU registers still
# live (Boot/fpu.inc, as Linux's TIF_NEED_FPU_LOAD scheme): one stray SSE
# move would silently corrupt a user's XMM register, and one x87 or SSE
# arithmetic instruction would also run under the user's control words
# (unmasked exceptions: #MF/#XM in ring 0, review finding 7). The compiler
# flags (Makefile NO_FPU_FLAGS, -mgeneral-regs-only) keep them out; Swift
# cannot be given -mno-x87, so a Float/Double in kernel code (the stdlib's
# Dictionary is one) would bring x87 back, and this is what catches it.
#
# Flagged: any operand naming %xmm/%ymm/%zmm/%st/%mm/%k (AVX-512 masks)
# registers; any mnemonic starting with "f" (every x87 instruction, and
# fxsave/fxrstor); ldmxcsr/stmxcsr and their v forms, emms, femms,
# vzeroupper/vzeroall and the xsave/xrstor family.
#
# Allowed: FUNCTION MNEMONIC pairs, the only places that may hold the FPU
# state (Boot/fpu.asm): saving the live registers into a task's area and
# switching the owner. A fresh state is never made with fninit/ldmxcsr:
# Task.resetFPUState writes the power-on image into the area, and
# fxrstor64 loads it like any other.
set -euo pipefail
objdump=${OBJDUMP:-llvm-objdump}
allowed='
fpu_save_live_state fxsave64
fpu_switch_owner fxsave64
fpu_switch_owner fxrstor64
'
[ $# -gt 0 ] || { echo "usage: check-no-fpu.sh FILE..." >&2; exit 2; }
fail=0
for file in "$@"; do
    found=$($objdump -d --no-show-raw-insn "$file" | awk -v allowed="$allowed" '
        BEGIN {
            n = split(allowed, lines, "\n")
            for (i = 1; i <= n; i++) if (lines[i] != "") ok[lines[i]] = 1
        }
        /^[0-9a-f]+ <.*>:$/ { fn = substr($2, 2, length($2) - 3); next }
        /^ *[0-9a-f]+:[ \t]/ {
            line = $0
            sub(/^ *[0-9a-f]+:[ \t]*/, "", line)
            sub(/[ \t]*#.*$/, "", line)          # objdump comments name symbols
            gsub(/<[^>]*>/, "", line)              # so do branch targets
            if (line ~ /^[0-9a-f][0-9a-f]( |$)/) next  # data in .text, shown as bytes
            split(line, parts, /[ \t]+/)
            mnemonic = parts[1]
            if (mnemonic ~ /^(rep|repne|repe|lock|data16|addr32|cs|ds|es|ss|notrack)$/) mnemonic = parts[2]
            fpu = line ~ /%([xyz]mm[0-9]|st([^a-z0-9]|$)|mm[0-7]|k[0-7]([^0-9]|$))/ ||
                  mnemonic ~ /^f/ ||
                  mnemonic ~ /^v?(ld|st)mxcsr$/ ||
                  mnemonic ~ /^(emms|vzeroupper|vzeroall)$/ ||
                  mnemonic ~ /^xsave|^xrstor/
            if (!fpu) next
            base = fn; sub(/\..*$/, "", base)     # nasm local labels: fn.label
            if ((base " " mnemonic) in ok) next
            if (++count <= 40) print "  " fn ": " line
        }
        END { if (count > 40) print "  ... and " count - 40 " more" }')
    if [ -n "$found" ]; then
        echo "check-no-fpu: FAIL: $file uses x87/MMX/SSE/AVX state outside Boot/fpu.asm:" >&2
        echo "$found" >&2
        echo "The kernel must not touch the FPU (user registers are live in it): build with" >&2
        echo "the Makefile's NO_FPU_FLAGS and use no Float/Double (nor Dictionary/Set) in kernel code." >&2
        fail=1
    fi
done
exit $fail
