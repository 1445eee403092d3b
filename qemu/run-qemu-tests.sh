#!/usr/bin/env bash
# qemu/run-qemu-tests.sh: boots the kernel in QEMU in each test mode and
# checks what it prints.
#
#   selftest          test=all: the in-kernel tests (Kernel/SelfTest); each
#                     "TEST PASS/FAIL" line counts as one test
#   panic-ud2         a deliberate ud2 must give the documented #UD panic
#   panic-pagefault   a deliberate write to an unmapped page must give the
#                     documented #PF panic
#   (both: the backtrace names its functions from the embedded symbol table)
#
# The user-space tests are qemu/run-user-tests.sh. Every boot loads the
# initrd ($BUILD/initrd.tar) as a module when it exists, as `make run` does.
# BUILD (default: build) selects the build directory; logs go to
# $BUILD/test-logs/. Prints one line per test, and writes "PASSED FAILED" to
# $RESULTS_FILE when set.
set -uo pipefail
source "$(dirname "$0")/test-lib.sh"

# expect_rip_in NAME REGEX: the panic's RIP must symbolize to a function matching REGEX.
expect_rip_in() {
    local name=$1 function=$2
    local rip
    rip=$(grep -o '^RIP=0x[0-9a-f]*' "$log" | head -1 | cut -d= -f2)
    if [ -z "$rip" ]; then fail "$name" "no RIP in $log"; return; fi
    local symbol
    symbol=$(llvm-symbolizer --obj="$KERNEL" --demangle "$rip" | head -1)
    if [[ $symbol =~ $function ]]; then pass "$name"
    else fail "$name" "RIP $rip is in \"$symbol\", expected $function"; fi
}

# --- In-kernel self-tests ---------------------------------------------------
boot selftest "test=all expect-ram-mib=$QEMU_MEMORY_MIB"
while IFS= read -r line; do
    case $line in
        "TEST PASS "*) pass "selftest/${line#TEST PASS }" ;;
        "TEST FAIL "*) rest=${line#TEST FAIL }; fail "selftest/${rest%%:*}" "${rest#*: }" ;;
    esac
done < "$log"
summary=$(grep -o 'SELFTEST SUMMARY passed=[0-9]* failed=[0-9]*' "$log" | tail -1)
if [ -z "$summary" ]; then
    fail selftest/completed "no SELFTEST SUMMARY: $(describe_status $status); see $log"
    tail -30 "$log" | sed 's/^/    /'
elif [[ $summary == *"failed=0" && $status -ne 0 ]] || [[ $summary != *"failed=0" && $status -ne 1 ]]; then
    fail selftest/exit-status "$summary but QEMU ended with: $(describe_status $status)"
fi

# --- The panic path ---------------------------------------------------------
boot panic-ud2 "test=panic-ud2"
if [ $status -ne 2 ]; then fail panic-ud2/exit-status "expected a kernel panic, got: $(describe_status $status)"; else pass panic-ud2/exit-status; fi
expect_text panic-ud2/report \
    "KERNEL PANIC: unhandled exception #UD Invalid Opcode (vector 6, error code 0x0000)" \
    "RIP=0x" "RSP=0x" "RFLAGS=0x" "RAX=0x" "RBX=0x" "RCX=0x" "RDX=0x" "RSI=0x" "RDI=0x" "RBP=0x" \
    "R8 =0x" "R9 =0x" "R10=0x" "R11=0x" "R12=0x" "R13=0x" "R14=0x" "R15=0x" "CR3=0x" \
    "Backtrace" "  #0 0x" "  #1 0x" "End of panic."
expect_rip_in panic-ud2/rip-points-at-the-ud2 "hal_ud2|SelfTest"
# The names come from the symbol table embedded in the kernel (Linker/make-symbol-table.sh).
expect_text panic-ud2/backtrace-names "CR0=0x" "CR4=0x" "Task: none (boot)" "  #0 0x" " hal_ud2+0x" \
    " static SelfTest.run(mode:bootInfo:commandLine:)+0x" " kernelMainOnKernelStack()+0x"

boot panic-pagefault "test=panic-pagefault"
if [ $status -ne 2 ]; then fail panic-pagefault/exit-status "expected a kernel panic, got: $(describe_status $status)"; else pass panic-pagefault/exit-status; fi
expect_text panic-pagefault/report \
    "KERNEL PANIC: unhandled exception #PF Page Fault (vector 14, error code 0x0002)" \
    "Page fault at 0xffff801000000123: write, page not present, kernel mode" \
    "CR2=0xffff801000000123" "RIP=0x" "RAX=0x" "R15=0x" "Backtrace" "  #0 0x" "End of panic."
expect_rip_in panic-pagefault/rip-points-at-the-write "SelfTest"

report "QEMU kernel tests"
