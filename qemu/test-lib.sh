# qemu/test-lib.sh: what the in-QEMU test runners share (sourced by
# qemu/run-qemu-tests.sh and qemu/run-user-tests.sh; not run on its own).
#
# BUILD (default: build) is the build directory: the kernel, the initrd and
# the test logs ($BUILD/test-logs/) live there. QEMU_TEST_TIMEOUT (default
# 120) bounds every boot, in seconds.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source qemu/qemu.conf
BUILD=${BUILD:-build}
KERNEL=$BUILD/kernel.elf
INITRD=$BUILD/initrd.tar
LOGS=$BUILD/test-logs
TEST_TIMEOUT=${QEMU_TEST_TIMEOUT:-120}
mkdir -p "$LOGS"
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "PASS qemu/$1"; }
fail() { failed=$((failed + 1)); echo "FAIL qemu/$1: $2"; }

# check NAME "REASON IF FALSE" COMMAND...: one test, passed when COMMAND succeeds.
check() {
    local name=$1 reason=$2; shift 2
    if "$@"; then pass "$name"; else fail "$name" "$reason"; fi
}

# report SUITE: the summary line, "PASSED FAILED" into $RESULTS_FILE when
# set, and the runner's exit status.
report() {
    echo "$1: $passed passed, $failed failed (logs in $LOGS)"
    [ -n "${RESULTS_FILE:-}" ] && echo "$passed $failed" > "$RESULTS_FILE"
    [ "$failed" -eq 0 ]
}

# The statuses of qemu/run-qemu.sh, plus 99 for "never booted".
describe_status() {
    case $1 in
        0) echo "success" ;; 1) echo "reported failure" ;; 2) echo "kernel panic" ;;
        3) echo "QEMU stopped without a kernel status (triple fault?)" ;; 124) echo "timed out" ;;
        99) echo "could not build or boot the image" ;; *) echo "status $1" ;;
    esac
}

# strip_cr FILE: the serial console ends lines with \r\n; keep \n.
strip_cr() { tr -d '\r' < "$1" > "$1.tmp" && mv "$1.tmp" "$1"; }

# boot NAME "CMDLINE": builds an ISO for NAME (with the initrd as a module
# when it exists) and boots it with stdin from /dev/null; sets $status (the
# status of qemu/run-qemu.sh) and $log.
boot() {
    local name=$1 cmdline=$2
    local iso=$BUILD/test-$name.iso
    local modules=()
    [ -f "$INITRD" ] && modules=("$INITRD:initrd")
    log=$LOGS/$name.log
    if ! qemu/make-iso.sh "$iso" "$KERNEL" "$cmdline" ${modules[@]+"${modules[@]}"} 2>"$log"; then
        status=99; return
    fi
    QEMU_TIMEOUT=$TEST_TIMEOUT qemu/run-qemu.sh "$iso" </dev/null >"$log" 2>&1
    status=$?
    strip_cr "$log"
}

# make_run NAME [VARIABLE=value...]: `make run` with those variables (and
# nothing inherited from an outer make), stdin from $RUN_STDIN (default
# /dev/null), output into $LOGS/NAME.log. The kernel's VM invariant checker
# is on ($VM_CHECK, default `vmcheck`: the touched pages after every
# syscall and fault, everything at fork, exec and exit; `vmcheck=N` adds
# a full check every N events, which is quadratic on the big tests);
# a CMDLINE= argument replaces it. Sets $log, $make_status (make's
# own) and $status (qemu/run-qemu.sh's, read back from its stderr line;
# 99 when make failed before QEMU ran).
make_run() {
    local name=$1; shift
    log=$LOGS/$name.log
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL QEMU_TIMEOUT="$TEST_TIMEOUT" \
        make -s --no-print-directory run BUILD="$BUILD" CMDLINE="${VM_CHECK-vmcheck}" INIT= EXTRA_PROGRAMS= "$@" \
        < "${RUN_STDIN:-/dev/null}" > "$log" 2>&1
    make_status=$?
    finish_run
}

# finish_run: after `make run` ended with $make_status into $log.
finish_run() {
    strip_cr "$log"
    if [ "$make_status" -eq 0 ]; then
        status=0
    else
        status=$(grep -ao 'run-qemu: exit status [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
        [ -n "$status" ] || status=99
    fi
}

# has TEXT: $log contains TEXT (fixed string).
has() { grep -aqF -- "$1" "$log"; }

# expect_text NAME TEXT...: one test; every TEXT must appear in $log.
expect_text() {
    local name=$1; shift
    local text
    for text in "$@"; do
        if ! has "$text"; then fail "$name" "missing \"$text\" in $log"; return; fi
    done
    pass "$name"
}

# expect_status NAME EXPECTED: one test on $status.
expect_status() {
    if [ "$status" -eq "$2" ]; then pass "$1"
    else fail "$1" "expected QEMU to end with: $(describe_status "$2"), got: $(describe_status "$status"); see $log"; fi
}

# show_tail: the end of $log, indented, to explain a failure.
show_tail() { tail -"${1:-25}" "$log" | sed 's/^/    /'; }
