#!/usr/bin/env bash
# Tests/run-host-tests.sh: the host tests (SwiftPM, Swift Testing) of the
# portable kernel code. Prints the result of each test and writes
# "PASSED FAILED" to $RESULTS_FILE when set.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/test-logs
log=build/test-logs/host.log

# No `|| true` after the pipeline: it would reset PIPESTATUS, and a build
# that fails would pass as "0 passed, 0 failed".
swift test --parallel 2>&1 | tee "$log" | { grep -E '^(✘|✔) Test ' | grep -v 'Test run with'; true; }
status=${PIPESTATUS[0]}

# One line per test function: "✔ Test name() passed ..." / "✘ Test name() failed ...";
# the runner's summary "✔ Test run with N tests in M suites passed ..."
# (or "✘ ... failed ...") is not a test.
passed=$(grep -E '^✔ Test .* passed after ' "$log" | grep -vc '^✔ Test run with')
failed=$(grep -E '^✘ Test .* failed after ' "$log" | grep -vc '^✘ Test run with')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # The build or the runner itself failed: count it, and show why.
    failed=1
    echo "FAIL host: swift test exited $status"
    grep -E 'error:' "$log" | head -20
fi
# A run that stops early (a crash, a kill) can exit 0 with only the tests
# reported so far: it must end with the summary, and every test it ran
# must have its line.
summary=$(grep -E '^(✔|✘) Test run with [0-9]+ tests? ' "$log" | tail -1)
ran=$(echo "$summary" | sed -nE 's/^.* Test run with ([0-9]+) tests? .*$/\1/p')
if [ -z "$ran" ]; then
    echo "FAIL host: swift test printed no \"Test run with N tests\" summary (stopped early?)"
    failed=$((failed + 1))
elif [ "$ran" -ne $((passed + failed)) ]; then
    echo "FAIL host: the summary says $ran tests ran, but $passed passed and $failed failed"
    failed=$((failed + 1))
fi
echo "Host tests: $passed passed, $failed failed (log in $log)"
[ -n "${RESULTS_FILE:-}" ] && echo "$passed $failed" > "$RESULTS_FILE"
[ "$failed" -eq 0 ]
