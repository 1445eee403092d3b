#!/usr/bin/env bash
# Tests/run-user-native.sh: runs every user test program (User/Tests/<name>)
# natively on the Linux host, proving the tests themselves are right before
# the kernel is judged by them.
#
# Each program is one test. It passes when it exits 0 within the time limit,
# printed at least one "PASS <check>" line and no "FAIL <check>: ..." line.
# Programs run with stdin from /dev/null, stdout into a log file (efault needs
# a real file, not /dev/null), a clean environment (USER_TEST_ENV=yes), core
# dumps off (faults kills children on purpose), and per-test arguments:
# argv_auxv gets `alpha "beta gamma"`, execve gets the path of exectarget.
#
# BUILD (default: build) selects the build directory; the programs are
# (re)built with `make user` first. Prints one line per test and
# "Native user tests: N passed, M failed"; writes "N M" to $RESULTS_FILE
# when set (the contract of Tests/run-host-tests.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TIMEOUT=${USER_TEST_TIMEOUT:-30}
bin=$BUILD/user/bin
logs=$BUILD/test-logs/user-native
mkdir -p "$logs"

passed=0; failed=0
report() {
    echo "Native user tests: $passed passed, $failed failed (logs in $logs)"
    [ -n "${RESULTS_FILE:-}" ] && echo "$passed $failed" > "$RESULTS_FILE"
    [ "$failed" -eq 0 ]
}

if ! make -s user BUILD="$BUILD" > "$logs/build.log" 2>&1; then
    echo "FAIL native: make user failed"
    tail -20 "$logs/build.log"
    failed=1
    report; exit
fi

# Prints the arguments test $1 needs, one per line.
test_arguments() {
    case "$1" in
        argv_auxv) printf '%s\n' alpha "beta gamma" ;;
        execve) printf '%s\n' "$(realpath "$bin/exectarget")" ;;
    esac
}

ulimit -c 0
for dir in User/Tests/*/; do
    name=$(basename "$dir")
    program=$bin/$name
    log=$logs/$name.log
    if [ ! -x "$program" ]; then
        echo "FAIL native/$name: $program not built"
        failed=$((failed + 1)); continue
    fi
    mapfile -t args < <(test_arguments "$name")
    # The outer 2>/dev/null only hides bash's "Illegal instruction" notice
    # when a test dies from a signal; the program's stderr goes to a log.
    status=0
    { env -i USER_TEST_ENV=yes timeout --kill-after=5 "$TIMEOUT" "$program" "${args[@]}" \
        < /dev/null > "$log" 2> "$logs/$name.stderr"; status=$?; } 2> /dev/null
    passes=$(grep -c '^PASS ' "$log")
    fails=$(grep -c '^FAIL ' "$log")
    if [ "$status" -eq 0 ] && [ "$fails" -eq 0 ] && [ "$passes" -gt 0 ]; then
        echo "PASS native/$name ($passes checks)"
        passed=$((passed + 1))
    else
        reason="exit status $status"
        [ "$status" -gt 128 ] && reason="killed by signal $((status - 128))"
        [ "$status" -eq 124 ] && reason="timed out after ${TIMEOUT}s"
        echo "FAIL native/$name: $reason, $passes checks passed, $fails failed"
        grep '^FAIL ' "$log" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done
report
