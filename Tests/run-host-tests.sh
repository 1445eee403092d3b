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

# One line per test function: "✔ Test name() passed ..." / "✘ Test name() failed ...".
passed=$(grep -cE '^✔ Test .* passed' "$log" | head -1)
failed=$(grep -E '^✘ Test .* failed' "$log" | grep -vc 'Test run with')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # The build or the runner itself failed: count it, and show why.
    failed=1
    echo "FAIL host: swift test exited $status"
    grep -E 'error:' "$log" | head -20
fi
echo "Host tests: $passed passed, $failed failed (log in $log)"
[ -n "${RESULTS_FILE:-}" ] && echo "$passed $failed" > "$RESULTS_FILE"
[ "$failed" -eq 0 ]
