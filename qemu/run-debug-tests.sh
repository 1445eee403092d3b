#!/usr/bin/env bash
# qemu/run-debug-tests.sh: the serial console as a debugging surface, driven
# through QEMU's stdin the way a user types (bytes into a FIFO, each step
# waiting for the text it answers).
#
#   console/ctrl-a-x        Ctrl-A X (0x01 0x78) at the shell prompt makes QEMU
#                           exit at once (the multiplexed serial, qemu.conf)
#   console/ctrl-c-...      `spin` in the foreground, then Ctrl-C (0x03): the
#                           kernel's SIGINT line, the shell's "[killed by
#                           signal 2]", a new prompt, and the shell still works
#   monitor/...             the boot option `monitor`, then Ctrl-\ (0x1c) while
#                           the shell runs: ps, vmas 1, pt 1 ADDR, frames, tlb,
#                           faults (traced) after the `faults` test program, a
#                           syscall trace of `hello`, check, mem, phys, kill, continue
#   monitor/fallback        no boot archive: the same monitor, `continue` refused,
#                           `poweroff` ends QEMU with success
#   monitor/panic...        Ctrl-\ while `spin` runs, then `panic`: the report
#                           names the task and the backtrace names the functions
#   gdb/...                 QEMU halted with a GDB server, gdb in batch mode with
#                           qemu/gdbinit: an hbreak on syscall_dispatch, then the
#                           helpers kcurrent, ktasks, kvmas 1, kpt (checked against
#                           the bytes gdb reads at the address), stepi, khbreak;
#                           then the README session: khbreak breakCopyOnWrite
#                           under /bin/cow, bt, kcurrent, kpt of the read-only leaf
#
# BUILD (default: build) selects the build directory; logs go to
# $BUILD/test-logs/debug-*.log. QEMU_TEST_TIMEOUT (default 120) bounds each
# boot. Prints one line per test, and writes "PASSED FAILED" to
# $RESULTS_FILE when set.
set -uo pipefail
source "$(dirname "$0")/test-lib.sh"

work=$(mktemp -d)
session_pid=""
cleanup() {
    [ -n "$session_pid" ] && kill "$session_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# start_session NAME "CMDLINE" [no-initrd]: boots an ISO with CMDLINE and the
# initrd (unless no-initrd), its serial console fed from a FIFO (fd $to_qemu)
# and written to $log.
start_session() {
    local name=$1 cmdline=$2
    local iso=$BUILD/test-$name.iso
    local modules=("$INITRD:initrd")
    [ "${3:-}" = no-initrd ] && modules=()
    log=$LOGS/$name.log
    session_failed=""
    if ! qemu/make-iso.sh "$iso" "$KERNEL" "$cmdline" ${modules[@]+"${modules[@]}"} > "$log" 2>&1; then
        session_failed="could not build $iso"; return
    fi
    rm -f "$work/stdin"; mkfifo "$work/stdin"
    QEMU_TIMEOUT=$TEST_TIMEOUT qemu/run-qemu.sh "$iso" < "$work/stdin" > "$log" 2>&1 &
    session_pid=$!
    exec {to_qemu}> "$work/stdin"
}

# count TEXT: occurrences of TEXT in $log so far.
count() { tr -d '\r' < "$log" | grep -aoF -- "$1" | wc -l; }

# await TEXT N [SECONDS]: waits until $log holds TEXT N times (default 30 s);
# false (and $session_failed set) when QEMU ended or the time ran out first.
await() {
    local text=$1 n=$2 limit=$(( ${3:-30} * 10 )) waited=0
    [ -n "$session_failed" ] && return 1
    while [ "$(count "$text")" -lt "$n" ]; do
        if ! kill -0 "$session_pid" 2>/dev/null || [ $waited -ge $limit ]; then
            # QEMU may have written the text just before exiting.
            [ "$(count "$text")" -ge "$n" ] && return 0
            session_failed="waited for \"$text\" (occurrence $n) in vain"
            return 1
        fi
        sleep 0.1; waited=$((waited + 1))
    done
}

# send BYTES (printf format): into QEMU's serial input.
send() { (trap '' PIPE; printf "$1" >&"$to_qemu") 2>/dev/null; }

# end_session: closes the input, waits for QEMU (killing it after
# $TEST_TIMEOUT), sets $status and strips the log's CRs.
end_session() {
    exec {to_qemu}>&-
    wait "$session_pid"; status=$?
    session_pid=""
    strip_cr "$log"
}

# --- Ctrl-A X --------------------------------------------------------------
start_session debug-ctrl-a-x ""
if await '$ ' 1 "$TEST_TIMEOUT"; then
    send_time=$(date +%s)
    send '\001x'
    waited=0
    while kill -0 "$session_pid" 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
fi
end_session
if [ -n "$session_failed" ]; then fail console/ctrl-a-x "$session_failed; see $log"
elif [ $waited -ge 100 ]; then fail console/ctrl-a-x "QEMU still running 10 s after Ctrl-A X; see $log"
elif ! has "QEMU: Terminated"; then fail console/ctrl-a-x "no \"QEMU: Terminated\" from the mux; see $log"
else pass console/ctrl-a-x; fi

# --- Ctrl-C ------------------------------------------------------------------
start_session debug-ctrl-c ""
await '$ ' 1 "$TEST_TIMEOUT" && send 'spin\n'
# spin has started when the shell's child exists; give it a moment in ring 3.
await 'spin' 1 && sleep 2 && send '\003'
await '[killed by signal 2' 1 && await '$ ' 2 && send 'hello after-ctrl-c\n'
await 'argv[1] = after-ctrl-c' 1 && await '$ ' 3 && send 'exit 0\n'
await 'init: exited with status 0' 1
end_session
if [ -n "$session_failed" ]; then fail console/ctrl-c "$session_failed; see $log"; show_tail; fi
expect_text console/ctrl-c-kernel-line "console: Ctrl-C: SIGINT to pid 2 (spin)"
expect_text console/ctrl-c-shell-status "[killed by signal 2]"
expect_text console/ctrl-c-shell-survives "argv[1] = after-ctrl-c" "init: exited with status 0"
expect_status console/ctrl-c-clean-exit 0

# --- The monitor ---------------------------------------------------------------
monitor_prompts=0
# run_monitor COMMAND: waits for the next monitor prompt, types COMMAND.
run_monitor() { monitor_prompts=$((monitor_prompts + 1)); await 'monitor> ' $monitor_prompts && send "$1\n"; }

start_session debug-monitor "monitor"
await 'monitor: boot option' 1 "$TEST_TIMEOUT"
run_monitor 'help'
run_monitor 'ps'
run_monitor 'vmas 1'
run_monitor 'trace on faults'
run_monitor 'continue'
await '$ ' 1 && send 'faults\n'
await '$ ' 2 && send '\034'
# Only now: exec maps the program's pages without touching them (a private
# file mapping, Linux elf_map); the shell's first reads of its rodata have
# faulted 0x400000 in by the time it prompts.
run_monitor 'pt 1 0x400000'
run_monitor 'faults'
run_monitor 'frames'
run_monitor 'tlb'
run_monitor 'trace on syscalls'
run_monitor 'continue'
await '$ ' 2 && send 'hello traced\n'
await '$ ' 3 && send '\034'
run_monitor 'trace off'
run_monitor 'check'
run_monitor 'mem 0x400000 32'
run_monitor 'phys 0x100000 16'
run_monitor 'nosuch'
run_monitor 'continue'
await '$ ' 3 && send 'spin &\n'
await '$ ' 4 && send '\034'
spin_pid=$(tr -d '\r' < "$log" | grep -ao '^\[pid [0-9]*\] started in background' | grep -o '[0-9]*' | head -1)
run_monitor 'ps'
run_monitor "kill ${spin_pid:-0}"
run_monitor 'continue'
await 'monitor: resuming' 4 && send '\n'
await '$ ' 5 && send 'exit 0\n'
await 'init: exited with status 0' 1
end_session
if [ -n "$session_failed" ]; then fail monitor/session "$session_failed; see $log"; show_tail 40; else pass monitor/session; fi
expect_text monitor/opens-at-boot "monitor: boot option 'monitor'; kernel stopped."
expect_text monitor/help "ps   " "vmas PID" "pt PID ADDR" "trace on|off [faults|syscalls]" "mem ADDR LEN"
expect_text monitor/ps "  PID   PPID  STATE" "init"
size='[0-9.]+ (B|KiB|MiB)'
if grep -aqE "^ +1 +0 +ready +[0-9.]+ KiB( +$size){3} +[0-9.]+ KiB +init\$" "$log"; then pass monitor/ps-init-line
else fail monitor/ps-init-line "no ps line for pid 1 (init, ready, RSS, anon, file, shmem, mapped) in $log"; fi
expect_text monitor/vmas "pid 1 (init): 4 mappings" "total-vm:" "anon-rss:" "RLIMIT_AS unlimited" "START             END" "0x40_0000" "image" "stack" "picture: [" "pages" \
    "MAY" "BACKING" "OFFSET" "r-x   rwx   image  file     0x1000"
expect_text monitor/pt "walk of 0x40_0000" "PML4[0]" "PDPT[0]" "PD[2]" "PT[0]" "owns-frame" "0x40_0000 -> physical 0x"
expect_text monitor/faults "Page faults by outcome" "Tasks killed for a CPU exception, by signal:"
if grep -aqE '^  SIGSEGV +[1-9][0-9]*$' "$log"; then pass monitor/faults-counted
else fail monitor/faults-counted "no non-zero SIGSEGV count after the faults program in $log"; fi
expect_text monitor/frames "KIND" "page tables" "Free blocks per order: 0:" "reference count" "map count"
expect_text monitor/tlb "single page (invlpg)" "global (CR4.PGE toggle)"
expect_text monitor/trace-faults "trace: faults on, syscalls off" "(faults) at 0x0 error 0x6 rip 0x" "-> SIGSEGV"
expect_text monitor/trace-syscalls "trace: faults on, syscalls on" "(hello) execve(" "(hello) write(0x1, " "(hello) exit_group(0x0) = <exited>"
expect_text monitor/check "check: OK (frame allocator;"
if has "check: FAILED"; then fail monitor/check-clean "$(grep -a 'check: FAILED' "$log" | head -1)"; else pass monitor/check-clean; fi
expect_text monitor/mem "pid 1 (init), virtual:" "0x40_0000             7f 45 4c 46"
expect_text monitor/phys "0x10_0000 "
expect_text monitor/unknown-command "unknown command: nosuch"
expect_text monitor/kill "monitor: killing pid ${spin_pid:-?} (spin) with SIGKILL" "[pid ${spin_pid:-?} done: killed by signal 9"
expect_text monitor/continue-and-exit "monitor: resuming" "init: exited with status 0" "frames: back to baseline"
expect_status monitor/exit-status 0

# --- A panic from the monitor, opened while a task runs ------------------------
start_session debug-monitor-panic ""
await '$ ' 1 "$TEST_TIMEOUT" && send 'spin\n'
await 'spin' 1 && sleep 2 && send '\034'
await 'monitor> ' 1 && send 'panic\n'
await 'End of panic.' 1
end_session
if [ -n "$session_failed" ]; then fail monitor/panic "$session_failed; see $log"; show_tail; fi
expect_text monitor/panic-report "KERNEL PANIC: unhandled exception #UD Invalid Opcode" "Task: pid 2 (spin)" \
    " hal_ud2+0x" " KernelMonitor.open(_:canContinue:)+0x" " static ConsoleDevice.pollInput()+0x" \
    " static Scheduler.timerTick()+0x" " interrupt_common"
expect_status monitor/panic-exit-status 2

# --- The monitor as the fallback without a boot archive ----------------------------
start_session debug-monitor-fallback "" no-initrd
await 'monitor> ' 1 "$TEST_TIMEOUT" && send 'ps\n'
await 'monitor> ' 2 && send 'continue\n'
await 'monitor> ' 3 && send 'poweroff\n'
await 'Powering off.' 1
end_session
if [ -n "$session_failed" ]; then fail monitor/fallback "$session_failed; see $log"; show_tail
else expect_text monitor/fallback "init: no boot archive" "monitor: no boot archive; kernel stopped." \
    "  PID   PPID  STATE" "nothing to continue: there is no user space (no boot archive)"; fi
expect_status monitor/fallback-poweroff 0

# --- gdb and qemu/gdbinit ---------------------------------------------------------
# gdb_session NAME "CMDLINE": boots the initrd with CMDLINE, QEMU halted with
# a GDB server on a port of our own (other QEMUs, make debug's 1234, may be
# listening), then runs gdb in batch mode with qemu/gdbinit and the
# commands on stdin; the transcript goes to $log. Sets $session_failed.
gdb_session() {
    local name=$1 cmdline=$2 port iso=$BUILD/test-$1.iso script=$work/$1.gdb
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=$LOGS/$name.log
    session_failed=""
    { echo "target remote 127.0.0.1:$port"; cat; } > "$script"
    if ! qemu/make-iso.sh "$iso" "$KERNEL" "$cmdline" "$INITRD:initrd" > "$log" 2>&1; then
        session_failed="could not build $iso"; return
    fi
    # exec: $qemu_pid is timeout's, which passes a kill on to QEMU.
    (QEMU_CONSOLE="file,id=console,path=$LOGS/$name-serial.log"; source qemu/qemu.conf
     exec timeout "$TEST_TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" -cdrom "$iso" \
         -gdb "tcp:127.0.0.1:$port" -S) < /dev/null > "$LOGS/$name-qemu.log" 2>&1 &
    local qemu_pid=$!
    # gdb retries until QEMU listens.
    for _ in $(seq 50); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
        sleep 0.2
    done
    timeout "$TEST_TIMEOUT" gdb -q -batch -nx -x qemu/gdbinit -x "$script" "$KERNEL" > "$log" 2>&1
    kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null
}

gdb_session debug-gdb "" <<'GDB'
hbreak syscall_dispatch
continue
kcurrent
ktasks
kvmas 1
kpt 0x400000 1
x/4xb 0x400000
python print("direct map of the walk's frame: " + " ".join("%02x" % b for b in memory(DIRECT_MAP + walk(cpu_cr3(), 0x400000, show=False), 4)))
stepi
info registers rip
khbreak killForFault
kill
GDB
if [ -n "$session_failed" ]; then fail gdb/session "$session_failed"
else
    if has "Breakpoint 1, " && has "in syscall_dispatch"; then pass gdb/hbreak; else fail gdb/hbreak "no stop at syscall_dispatch; see $log"; fi
    expect_text gdb/kcurrent "current: pid 1 (init), running, cr3 0x" "(cs 0x2b: ring 3)"
    if grep -aqE '^\* +1 +0 +running +0x[0-9a-f_]+ +[0-9]+ KiB +init$' "$log"; then pass gdb/ktasks
    else fail gdb/ktasks "no ktasks line for pid 1 in $log"; fi
    expect_text gdb/kvmas "pid 1 (init): 4 mappings" "0x40_0000          0x40_1000" "MAY  KIND   BACKING OFFSET" \
        "rwx  image  file    0x" "stack  anon    -        1/32 pages"
    expect_text gdb/kpt "walk of 0x40_0000 under pid 1 (init)" "PML4[0]" "PT[0]" "owns-frame" "0x40_0000 -> physical 0x"
    expect_text gdb/kpt-agrees-with-the-cpu "0x400000:	0x7f	0x45	0x4c	0x46" "direct map of the walk's frame: 7f 45 4c 46"
    expect_text gdb/stepi "<syscall_dispatch+"
    expect_text gdb/khbreak "Hardware assisted breakpoint 2 at 0x"
fi

# The README's session: a breakpoint on the copy-on-write fault path, hit by
# the first write after a fork in User/Tests/cow; the faulting page is
# present and read-only in the writer's table.
gdb_session debug-gdb-cow "init=/bin/cow" <<'GDB'
khbreak breakCopyOnWrite
continue
bt 3
kcurrent
python print("cr2 %#x" % int(gdb.parse_and_eval("$cr2")))
python page = int(gdb.parse_and_eval("$cr2")) & ~0xfff; gdb.execute("kpt %#x" % page)
x/2i $pc
nexti
kill
GDB
if [ -n "$session_failed" ]; then fail gdb/cow-session "$session_failed"
else
    expect_text gdb/khbreak-cow "breakCopyOnWrite" "Hardware assisted breakpoint 1 at 0x"
    if has "Breakpoint 1, " && has "in \$e6Kernel16UserAddressSpaceV16breakCopyOnWrite"; then pass gdb/cow-fault-stops
    else fail gdb/cow-fault-stops "no stop in breakCopyOnWrite; see $log"; fi
    expect_text gdb/cow-backtrace "#1  0x"
    expect_text gdb/cow-kcurrent "(cow), running" "(cs 0x2b: ring 3)"
    # The leaf is present, user and read-only (`P RO U`): the fork's write protection.
    if grep -aqE '^PT\[[0-9]+\] +0x[0-9a-f_]+ +frame 0x[0-9a-f_]+ +P RO U' "$log"; then pass gdb/cow-leaf-read-only
    else fail gdb/cow-leaf-read-only "no present read-only user leaf in the walk; see $log"; fi
fi

report "QEMU debugging tests"
