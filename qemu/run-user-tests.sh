#!/usr/bin/env bash
# qemu/run-user-tests.sh: user space on the real kernel, through `make run`
# (so the Makefile's INIT / EXTRA_PROGRAMS wiring is tested too).
#
#   user/<name>      init="/bin/runtests <every User/Tests/<name>>": each
#                    "USERTEST PASS/FAIL <name>" line is one test; a name with
#                    no line at all fails. Then: the USERTEST SUMMARY agrees,
#                    init exited 0, the frames are back to baseline, the
#                    kernel logged a "killed by SIGSEGV" line (faults), and
#                    QEMU ended with success.
#   user/cpu-without-smap  a few of them again on a CPU model without SMEP
#                    and SMAP (QEMU_CPU=qemu64,+nx)
#   user/fuzz        /bin/fuzz 1 500 as init: the kernel survives, no leak
#   shell/...        the default init (the shell) fed a script on the serial
#                    port, one line per prompt: built-ins, programs with
#                    arguments, a C program, the cowtest suite (issue [4]:
#                    the shell in make run can run it), console reads into a
#                    buffer at the end of a mapping (ttyread, review item
#                    14), an unknown command, a background
#                    job, then `exit 5`, which must make `make run` fail.
#   outside/...      a static gcc binary built here from outside the tree,
#                    added with EXTRA_PROGRAMS and run as init: exit 0 must
#                    give success, exit 3 failure.
#
# BUILD (default: build) selects the build directory; logs go to
# $BUILD/test-logs/user-*.log. QEMU_TEST_TIMEOUT (default 120) bounds each
# boot. Prints one line per test, and writes "PASSED FAILED" to
# $RESULTS_FILE when set.
set -uo pipefail
source "$(dirname "$0")/test-lib.sh"

# --- The user test programs, run by /bin/runtests -----------------------------
# Every QEMU boot runs with the VM checker on (test-lib.sh). The tests are
# split over three boots, each with 5 times the per-boot limit: cow and
# lazy_memory fault in hundreds of thousands of pages, hostile forks 621
# children, each fork and exit a full check. fork_bomb gets a boot of its
# own without the checker: a full check at every fork is quadratic there.
vm_names=(cow lazy_memory)
hostile_names=(hostile segments)
names=()
for dir in User/Tests/*/; do
    name=$(basename "$dir")
    case " fork_bomb ${vm_names[*]} ${hostile_names[*]} " in
        *" $name "*) ;;
        *) names+=("$name") ;;
    esac
done

# run_group LOGNAME PREFIX NAME...: one boot of /bin/runtests NAME...; one
# test per name, then the summary, init's exit, frames and QEMU's status.
run_group() {
    local logname=$1 prefix=$2; shift 2
    local group=("$@") name line summary pass_lines fail_lines
    TEST_TIMEOUT=$((TEST_TIMEOUT * 5)) make_run "$logname" INIT="/bin/runtests ${group[*]}"
    for name in "${group[@]}"; do
        line=$(grep -aoE "USERTEST (PASS|FAIL) $name(: .*)?$" "$log" | tail -1)
        case $line in
            "USERTEST PASS $name") pass "user/$name" ;;
            "USERTEST FAIL $name"*) fail "user/$name" "${line#USERTEST FAIL $name: }" ;;
            *) fail "user/$name" "no USERTEST line for it: $(describe_status "$status"); see $log" ;;
        esac
    done
    summary=$(grep -aoE 'USERTEST SUMMARY passed=[0-9]+ failed=[0-9]+' "$log" | tail -1)
    pass_lines=$(grep -aoE 'USERTEST PASS [^ :]+' "$log" | wc -l)
    fail_lines=$(grep -aoE 'USERTEST FAIL [^ :]+' "$log" | wc -l)
    if [ -z "$summary" ]; then
        fail "$prefix/summary" "no USERTEST SUMMARY line: $(describe_status "$status"); see $log"
        show_tail
    elif [ "$summary" != "USERTEST SUMMARY passed=$pass_lines failed=$fail_lines" ]; then
        fail "$prefix/summary" "\"$summary\" but the log has $pass_lines PASS and $fail_lines FAIL lines"
    elif [ $((pass_lines + fail_lines)) -ne ${#group[@]} ]; then
        fail "$prefix/summary" "\"$summary\" but ${#group[@]} tests were asked for"
    else
        pass "$prefix/summary"
    fi
    expect_text "$prefix/init-exited-0" "init: exited with status 0"
    expect_text "$prefix/frames-back-to-baseline" "frames: back to baseline"
    expect_status "$prefix/exit-status" 0
}

run_group user-runtests user "${names[@]}"
if grep -aqE 'pid [0-9]+ \([^)]*\): killed by SIGSEGV' "$log"; then pass user/fault-log-line
else fail user/fault-log-line "no \"pid N (name): killed by SIGSEGV: ...\" line in $log"; fi
run_group user-runtests-vm user-vm "${vm_names[@]}"
run_group user-runtests-hostile user-hostile "${hostile_names[@]}"

VM_CHECK= TEST_TIMEOUT=$((TEST_TIMEOUT * 2)) make_run user-fork-bomb INIT="/bin/runtests fork_bomb"
if has "USERTEST PASS fork_bomb" && has "init: exited with status 0" && has "frames: back to baseline" \
    && [ "$status" -eq 0 ]; then
    pass user/fork_bomb
else
    fail user/fork_bomb "$(describe_status "$status"); see $log"
    show_tail
fi

# --- A CPU without SMEP and SMAP ------------------------------------------------
# stac/clac raise #UD there: the user-copy and entry paths must skip them.
no_smap_tests=(write_read efault execve faults segments hostile bad_pointers info_leaks)
QEMU_CPU="qemu64,+nx" make_run user-no-smap INIT="/bin/runtests ${no_smap_tests[*]}"
if has "SMAP off" && has "USERTEST SUMMARY passed=${#no_smap_tests[@]} failed=0" \
    && has "init: exited with status 0" && [ "$status" -eq 0 ]; then
    pass user/cpu-without-smap
else
    fail user/cpu-without-smap "$(describe_status "$status"); see $log"
    show_tail
fi

# --- The syscall fuzzer, a short fixed round (make fuzz runs long ones) --------
# The kernel must survive every call: a FUZZ SUMMARY line, init (the fuzzer)
# exited 0, frames back to baseline, QEMU ended with success.
fuzz_seed=1 fuzz_count=500
make_run user-fuzz INIT="/bin/fuzz $fuzz_seed $fuzz_count"
if has "FUZZ SUMMARY seed=$fuzz_seed" && has "init: exited with status 0" \
    && has "frames: back to baseline" && [ "$status" -eq 0 ]; then
    pass user/fuzz
    grep -aoE 'FUZZ SUMMARY .*' "$log" | sed 's/^/    /'
else
    fail user/fuzz "seed $fuzz_seed count $fuzz_count: $(describe_status "$status"); see $log"
    show_tail
fi

# --- The shell ----------------------------------------------------------------
# Input goes in only once the shell has printed its prompt ("$ ") once more
# than the lines sent so far: bytes that arrive while GRUB and early boot
# own the serial port can be lost, and nothing is buffered
# beyond the UART's 16 bytes while nobody reads. QEMU never sees EOF: the
# FIFO stays open until it exits.
shell_script=(
    "help"
    "ls"
    "hello one two"
    "hello_c"
    "cow"
    "ttyread"
    "short"
    "a-line-longer-than-its-16-byte-buffer"
    "nosuch"
    "spin &"
    "hello after-spin"
    "exit 5"
)
# prompts: how many "$ " the shell has printed so far.
prompts() { grep -ao '\$ ' "$log" | wc -l; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkfifo "$work/stdin"
log=$LOGS/user-shell.log
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL QEMU_TIMEOUT="$((TEST_TIMEOUT * 3))" \
    make -s --no-print-directory run BUILD="$BUILD" CMDLINE= INIT= EXTRA_PROGRAMS= \
    < "$work/stdin" > "$log" 2>&1 &
run_pid=$!
exec {to_shell}> "$work/stdin"
sent=0
no_prompt=""
limit=$((TEST_TIMEOUT * 10))  # the first prompt: building the image and booting
for input in "${shell_script[@]}"; do
    waited=0
    while [ -z "$no_prompt" ] && [ "$(prompts)" -le "$sent" ]; do
        if ! kill -0 "$run_pid" 2>/dev/null || [ $waited -ge $limit ]; then
            no_prompt="no prompt before line $((sent + 1)) (\"$input\")"
            break
        fi
        sleep 0.1; waited=$((waited + 1))
    done
    # A subshell that ignores SIGPIPE: QEMU may be gone already.
    (trap '' PIPE; printf '%s\n' "$input" >&"$to_shell") 2>/dev/null
    sent=$((sent + 1)); limit=300  # then up to 30 s per prompt
    # issue [4]: the shell runs the cowtest suite; limit counts tenths of a second
    [ "$input" = cow ] && limit=$((TEST_TIMEOUT * 5))
done
wait "$run_pid"
make_status=$?
exec {to_shell}>&-
finish_run

if [ -n "$no_prompt" ]; then fail shell/prompt "$no_prompt; see $log"; show_tail
else pass shell/prompt; fi
expect_text shell/hello-with-arguments "Hello from ring 3" "argv[1] = one" "argv[2] = two"
expect_text shell/hello-c "Hello from C in ring 3"
expect_text shell/exit-line "[exit 0]"
expect_text shell/ls exectarget
# Review item 14: a console read needs only the bytes its line fills.
expect_text shell/console-read-copies-the-line "ttyread: short line: 6 bytes" "ttyread: long line: 16 bytes" \
    "ttyread: ok"
if grep -aqE '^cow: [0-9]+ passed, 0 failed' "$log"; then pass shell/cowtest
else fail shell/cowtest "the cowtest suite did not pass from the shell; see $log"; fi
# Every "command not found" must be about nosuch: help, ls, hello, spin exist.
not_found=$(grep -a 'command not found' "$log")
if [ -z "$not_found" ]; then fail shell/command-not-found "no \"command not found\" for nosuch in $log"
elif grep -av nosuch <<< "$not_found" | grep -q .; then
    fail shell/command-not-found "unexpected: $(grep -av nosuch <<< "$not_found" | head -1)"
else pass shell/command-not-found; fi
expect_text shell/responsive-after-background-job "argv[1] = after-spin"
expect_text shell/init-exit-status "init: exited with status 5"
if [ "$make_status" -ne 0 ] && [ "$status" -eq 1 ]; then pass shell/make-run-fails
else fail shell/make-run-fails "make exited $make_status, QEMU ended with: $(describe_status "$status") (expected failure: init exited 5)"; fi

# --- A binary from outside the tree -------------------------------------------
# A static, libc-free gcc program: prints a line, exits with argv[1]'s first digit.
outside=$work/outside_exit
cat > "$outside.c" <<'EOF'
static long syscall3(long number, long a1, long a2, long a3) {
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a1), "S"(a2), "d"(a3)
                     : "rcx", "r11", "memory");
    return result;
}

/* The initial stack: argc, then argv. */
__attribute__((used, noreturn)) void outside_main(long *stack) {
    static const char message[] = "outside_exit: built outside the tree, exiting with status ";
    long argc = stack[0];
    char **argv = (char **)(stack + 1);
    int status = 0;
    if (argc > 1 && argv[1][0] >= '0' && argv[1][0] <= '9') status = argv[1][0] - '0';
    char tail[2] = {(char)('0' + status), '\n'};
    syscall3(1, 1, (long)message, sizeof message - 1);
    syscall3(1, 1, (long)tail, 2);
    for (;;) syscall3(231, status, 0, 0);
}

__asm__(".text\n.globl _start\n_start:\n"
        "    xor %ebp, %ebp\n    mov %rsp, %rdi\n    and $-16, %rsp\n"
        "    call outside_main\n    hlt\n");
EOF
if ! gcc -static -nostdlib -fno-pie -no-pie -ffreestanding -O2 -Wall -Werror \
        "$outside.c" -o "$outside" > "$LOGS/user-outside-build.log" 2>&1; then
    fail outside/build "gcc failed; see $LOGS/user-outside-build.log"
elif [ "$("$outside" 3)" != "outside_exit: built outside the tree, exiting with status 3" ] \
        || { "$outside" 0 >/dev/null; [ $? -ne 0 ]; }; then
    fail outside/build "the program misbehaves natively on Linux"
else
    for code in 0 3; do
        make_run "user-outside-$code" INIT="/bin/outside_exit $code" EXTRA_PROGRAMS="$outside"
        if [ $code -eq 0 ]; then expected=0; else expected=1; fi
        if ! has "outside_exit: built outside the tree, exiting with status $code"; then
            fail "outside/exit-$code" "its output is missing: $(describe_status "$status"); see $log"
        elif ! has "init: exited with status $code"; then
            fail "outside/exit-$code" "no \"init: exited with status $code\" in $log"
        elif [ "$status" -ne $expected ] || { [ $code -ne 0 ] && [ "$make_status" -eq 0 ]; }; then
            fail "outside/exit-$code" "make exited $make_status, QEMU ended with: $(describe_status "$status")"
        else
            pass "outside/exit-$code"
        fi
    done
fi

report "QEMU user tests"
