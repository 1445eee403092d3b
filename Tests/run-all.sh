#!/usr/bin/env bash
# Tests/run-all.sh: every test (host unit tests, the compile-fail checks of
# the typed access levels, the user test programs run
# natively on Linux, the kernel in QEMU, then user space in QEMU, the
# serial-console debugging tools, then one quick run of every benchmark
# program: qemu/bench-smoke.sh), and the
# total on the last line as "N passed, N failed". Exits non-zero on any
# failure. BUILD (default: build) is the build directory; `make test`
# builds the kernel and the initrd first.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
start=$(date +%s)

RESULTS_FILE=$results/host Tests/run-host-tests.sh
RESULTS_FILE=$results/compile-fail Tests/run-compile-fail.sh
RESULTS_FILE=$results/native Tests/run-user-native.sh
RESULTS_FILE=$results/qemu qemu/run-qemu-tests.sh
RESULTS_FILE=$results/qemu-user qemu/run-user-tests.sh
RESULTS_FILE=$results/qemu-debug qemu/run-debug-tests.sh
RESULTS_FILE=$results/bench-smoke qemu/bench-smoke.sh

passed=0; failed=0
for suite in host compile-fail native qemu qemu-user qemu-debug bench-smoke; do
    if [ -s "$results/$suite" ]; then
        read -r p f < "$results/$suite"
    else
        echo "FAIL $suite: the runner reported no counts"; p=0; f=1
    fi
    passed=$((passed + p)); failed=$((failed + f))
done
echo "make test took $(( $(date +%s) - start ))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
