#!/usr/bin/env bash
# Tests/run-compile-fail.sh: the compile-fail checks of the typed access
# levels (Kernel/VM/RegionViews.swift, NewRegion.swift). Each snippet in
# Tests/CompileFail misuses a view and must fail to compile with the
# diagnostic on its "// expected-error:" line; Tests/CompileFail/correct
# holds correct uses, which must compile, so that the misuse checks cannot
# pass because of a broken build or import. The snippets import the host
# build of KernelCore (`swift build`, made by the host tests, which run
# first); -emit-sil because the ownership checks run on SIL, after type
# checking. Writes "PASSED FAILED" to $RESULTS_FILE when set.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/test-logs
log=build/test-logs/compile-fail.log
: > "$log"
modules=.build/debug/Modules
passed=0; failed=0
pass() { echo "PASS compile-fail/$1"; passed=$((passed + 1)); }
fail() { echo "FAIL compile-fail/$1: $2"; failed=$((failed + 1)); }

if [ ! -d "$modules" ]; then
    swift build >> "$log" 2>&1 || true
fi
compile() { swiftc -emit-sil -o /dev/null -I "$modules" "$1" 2>&1; }

for snippet in Tests/CompileFail/correct/*.swift; do
    name=correct/$(basename "$snippet" .swift)
    if output=$(compile "$snippet"); then pass "$name"
    else fail "$name" "a correct use does not compile (see $log)"; fi
    echo "== $snippet" >> "$log"; echo "$output" >> "$log"
done
for snippet in Tests/CompileFail/*.swift; do
    name=$(basename "$snippet" .swift)
    expected=$(sed -n 's|^// expected-error: ||p' "$snippet" | head -1)
    if [ -z "$expected" ]; then fail "$name" "no '// expected-error:' line"; continue; fi
    output=$(compile "$snippet"); status=$?
    echo "== $snippet (expected: $expected)" >> "$log"; echo "$output" >> "$log"
    if [ "$status" -eq 0 ]; then fail "$name" "compiled, but must not: $expected"
    elif grep -F -- "error:" <<< "$output" | grep -qF -- "$expected"; then pass "$name"
    else fail "$name" "failed to compile, but not with \"$expected\" (see $log)"; fi
done
echo "Compile-fail checks: $passed passed, $failed failed (log in $log)"
[ -n "${RESULTS_FILE:-}" ] && echo "$passed $failed" > "$RESULTS_FILE"
[ "$failed" -eq 0 ]
