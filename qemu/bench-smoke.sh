#!/usr/bin/env bash
# qemu/bench-smoke.sh: every benchmark program (User/Programs/bench_*) once,
# with one repetition and small sizes ("quick"), so that none of them rots
# between `make bench` runs. Asserts that they run, never what they measure.
#
#   bench-smoke/native/<program>  run on this Linux host: exits 0, and every
#                  BENCH line is a figure or "skipped", never "failed"
#   bench-smoke/qemu/<program>    the same on this kernel, all under one
#                  boot with init="/bin/bench_run 1 quick" (`make run`)
#   bench-smoke/qemu/no-failed-line, init-exited-0,
#   frames-back-to-baseline, exit-status: that boot ended cleanly
#
# Needs `make kernel initrd`. Logs in $BUILD/test-logs/bench-smoke*.log;
# writes "PASSED FAILED" to $RESULTS_FILE when set (Tests/run-all.sh).
set -uo pipefail
source "$(dirname "$0")/test-lib.sh"
pass() { passed=$((passed + 1)); echo "PASS bench-smoke/$1"; }
fail() { failed=$((failed + 1)); echo "FAIL bench-smoke/$1: $2"; }

programs=(bench_syscall bench_fault bench_mmap bench_fork bench_regions)

# --- Natively: Linux is the oracle that the programs are right ----------------
for program in "${programs[@]}"; do
    log=$LOGS/bench-smoke-native-$program.log
    timeout 60 "$BUILD/user/bin/$program" 1 quick >"$log" 2>&1
    status=$?
    if [ $status -ne 0 ]; then fail "native/$program" "exit status $status; see $log"
    elif grep -q "^BENCH [^ ]* failed" "$log"; then fail "native/$program" "$(grep -m1 '^BENCH [^ ]* failed' "$log")"
    elif ! grep -qE "^BENCH [^ ]+ ([0-9]+ |skipped)" "$log"; then fail "native/$program" "no BENCH line; see $log"
    else pass "native/$program"; fi
done

# --- On this kernel -----------------------------------------------------------
make_run bench-smoke INIT="/bin/bench_run 1 quick"
for program in "${programs[@]}"; do
    line=$(grep -aoE "BENCHRUN $program (exit|signal) -?[0-9]+" "$log" | tail -1)
    if [ "$line" = "BENCHRUN $program exit 0" ]; then pass "qemu/$program"
    else fail "qemu/$program" "${line:-no BENCHRUN line for it: $(describe_status "$status")}; see $log"; fi
done
failed_line=$(grep -aE "^BENCH [^ ]+ failed" "$log" | head -1)
if [ -z "$failed_line" ]; then pass qemu/no-failed-line; else fail qemu/no-failed-line "$failed_line"; fi
if has "init: exited with status 0"; then pass qemu/init-exited-0
else fail qemu/init-exited-0 "missing \"init: exited with status 0\" in $log"; show_tail; fi
if has "frames: back to baseline"; then pass qemu/frames-back-to-baseline
else fail qemu/frames-back-to-baseline "missing \"frames: back to baseline\" in $log"; fi
if [ "$status" -eq 0 ]; then pass qemu/exit-status
else fail qemu/exit-status "expected success, got: $(describe_status "$status"); see $log"; fi

report bench-smoke
