# SwiftKernel: an Embedded Swift kernel for x86-64.
#
#   make run     build, then boot in QEMU with the serial console on this terminal;
#                the shell (/bin/init) starts, or INIT="/bin/prog args"; the
#                exit status is 0 exactly when init exited 0 with no frame leaked
#   make test    every test: host (SwiftPM), native, in-QEMU; ends with "N passed, N failed"
#   make debug   boot halted with a GDB server and attach gdb
#   make help    everything else
#
# Missing packages are installed on first use (qemu/ensure-deps.sh).

BUILD       := build
# The test and QEMU scripts read BUILD from the environment (default build).
export BUILD
SWIFTC      ?= swiftc
CC_KERNEL   ?= clang
LD_KERNEL   ?= ld.lld
NASM        ?= nasm

KERNEL_ELF  := $(BUILD)/kernel.elf
KERNEL_ISO  := $(BUILD)/kernel.iso
CMDLINE     ?=
# INIT="/bin/prog a b": the first user program and its arguments (no
# argument may contain a space or a double quote); added to CMDLINE as
# init="/bin/prog a b". Empty: the kernel starts /bin/init, the shell.
INIT        ?=
KERNEL_CMDLINE = $(strip $(CMDLINE) $(if $(strip $(INIT)),init="$(strip $(INIT))"))
# $(call shell_quote,TEXT): TEXT as one single-quoted shell word.
shell_quote = '$(subst ','\'',$(1))'

KERNEL_SWIFT := $(shell find Kernel -name '*.swift' | sort)
KERNEL_C     := $(shell find Kernel -name '*.c' | sort)
KERNEL_H     := $(shell find Kernel -name '*.h' -o -name '*.modulemap')
BOOT_ASM     := $(sort $(wildcard Boot/*.asm))
KERNEL_OBJS  := $(BUILD)/kernel/swift.o \
                $(patsubst Kernel/%.c,$(BUILD)/kernel/%.o,$(KERNEL_C)) \
                $(patsubst Boot/%.asm,$(BUILD)/boot/%.o,$(BOOT_ASM))

# Embedded Swift for bare metal (see ../shared/notes/embedded-swift-x86_64.md):
# optimised (the runtime's red-zone use goes away), no red zone, no stack
# protector, one object for the whole module. -O rather than -Osize: -Osize
# keeps the generic page-table and VM code out of line and expands struct
# copies and clears as `rep movsb`/`rep stosb`, one counted instruction per
# byte under icount; -O made the fault path ~40% and fork ~15-20% cheaper
# for a 14% larger text (bench/README.md).
# No x87/MMX/SSE/AVX in the kernel, as Linux (arch/x86/Makefile: -mno-sse
# -mno-mmx -mno-sse2 -mno-80387; -mgeneral-regs-only for C): a user task's
# FPU registers stay live while it is in the kernel and are switched lazily
# on the way back to ring 3 (Boot/fpu.inc). Swift cannot take -mno-x87 (its
# shims declare `long double` functions, which clang then rejects), so the
# Swift code is only kept off x87 by using no Float/Double (Dictionary is
# one: Kernel/VM/PageIndexMap.swift); Linker/check-no-fpu.sh proves it on
# the linked image.
NO_FPU_FLAGS := -mno-sse -mno-sse2 -mno-mmx
SWIFT_FLAGS := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded \
               -wmo -parse-as-library -O -module-name Kernel \
               -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
               -Xcc -mno-red-zone -Xcc -ffreestanding -Xcc -fno-omit-frame-pointer \
               $(addprefix -Xcc ,$(NO_FPU_FLAGS)) \
               -I Kernel/Arch/x86_64/HAL -I Kernel/Monitor/Symbols -g
C_FLAGS     := -target x86_64-unknown-none-elf -ffreestanding -fno-builtin -nostdlib \
               -mno-red-zone -fno-stack-protector -fno-omit-frame-pointer \
               -mgeneral-regs-only -O2 -g -Wall -Werror
SWIFT_ROOT  := $(abspath $(dir $(shell command -v $(SWIFTC)))/..)
# String comparison and hashing need the Unicode tables (toolchain notes).
SWIFT_EMBEDDED_LIBS := $(SWIFT_ROOT)/lib/swift/embedded/x86_64-unknown-none-elf/libswiftUnicodeDataTables.a
LD_FLAGS    := -n -static -nostdlib --gc-sections -T Linker/kernel.ld

.PHONY: all kernel iso run test test-host test-compile-fail test-qemu test-qemu-kernel test-qemu-user test-qemu-debug bench bench-host bench-qemu bench-vs-linux debug symbolize deps clean help

all: kernel

help:
	@sed -n '1,10p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Other targets: kernel, user, initrd, iso, test-host, test-qemu (= test-qemu-kernel + test-qemu-user + test-qemu-debug),"
	@echo "               bench-host, bench-qemu, bench-vs-linux, fuzz, fuzz-host, symbolize ADDR=..., deps, clean"
	@echo "Variables (run, iso, debug): INIT=\"/bin/prog args\" (the first program), EXTRA_PROGRAMS=\"path ...\""
	@echo "  (more files in /bin), CMDLINE=\"...\" (more kernel command line), QEMU_TIMEOUT=seconds;"
	@echo "  BUILD=dir (default build), QEMU_TEST_TIMEOUT=seconds (each test boot, default 120)"

deps:
	@qemu/ensure-deps.sh

kernel: $(KERNEL_ELF)

$(BUILD)/kernel/swift.o: $(KERNEL_SWIFT) $(KERNEL_H) Makefile | deps
	@mkdir -p $(dir $@)
	$(SWIFTC) $(SWIFT_FLAGS) -c $(KERNEL_SWIFT) -o $@
	@# swiftc leaves an identical object untouched (a comment-only change): date it, or make recompiles every time.
	@touch $@

$(BUILD)/kernel/%.o: Kernel/%.c $(KERNEL_H) Makefile | deps
	@mkdir -p $(dir $@)
	$(CC_KERNEL) $(C_FLAGS) -c $< -o $@

$(BUILD)/boot/%.o: Boot/%.asm $(wildcard Boot/*.inc) | deps
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -g -F dwarf -i Boot/ $< -o $@

# Two links: the first with an empty symbol table, whose function names
# (demangled) become the table of the second (Linker/make-symbol-table.sh);
# the table is in .rodata, after .text, so no function moves (checked).
SYMBOLS_C   := -I Kernel/Monitor/Symbols
$(BUILD)/kernel/symbols-empty.o: Linker/make-symbol-table.sh Kernel/Monitor/Symbols/kernel_symbols.h
	@mkdir -p $(dir $@)
	Linker/make-symbol-table.sh --empty > $(BUILD)/kernel/symbols-empty.c
	$(CC_KERNEL) $(C_FLAGS) $(SYMBOLS_C) -c $(BUILD)/kernel/symbols-empty.c -o $@

$(KERNEL_ELF): $(KERNEL_OBJS) $(BUILD)/kernel/symbols-empty.o Linker/kernel.ld Linker/check-image.sh Linker/check-no-fpu.sh
	$(LD_KERNEL) $(LD_FLAGS) $(KERNEL_OBJS) $(BUILD)/kernel/symbols-empty.o $(SWIFT_EMBEDDED_LIBS) -o $@.pass1
	Linker/make-symbol-table.sh $@.pass1 > $(BUILD)/kernel/symbols.c
	$(CC_KERNEL) $(C_FLAGS) $(SYMBOLS_C) -c $(BUILD)/kernel/symbols.c -o $(BUILD)/kernel/symbols.o
	$(LD_KERNEL) $(LD_FLAGS) $(KERNEL_OBJS) $(BUILD)/kernel/symbols.o $(SWIFT_EMBEDDED_LIBS) -o $@.tmp
	Linker/make-symbol-table.sh --same-text $@.pass1 $@.tmp
	Linker/check-image.sh $@.tmp
	Linker/check-no-fpu.sh $@.tmp
	rm -f $@.pass1
	mv $@.tmp $@

include User/user.mk

# Rebuilt every time: the command line, INIT and EXTRA_PROGRAMS may change.
$(KERNEL_ISO): $(KERNEL_ELF) initrd qemu/make-iso.sh FORCE
	@qemu/make-iso.sh $@ $(KERNEL_ELF) $(call shell_quote,$(KERNEL_CMDLINE)) $(INITRD):initrd

iso: $(KERNEL_ISO)

# The status is the kernel's (qemu/run-qemu.sh): 0 exactly when init exited
# 0 and no frame leaked.
run: $(KERNEL_ISO)
	@qemu/run-qemu.sh $(KERNEL_ISO)

debug: $(KERNEL_ISO)
	@qemu/debug.sh $(KERNEL_ISO) $(KERNEL_ELF)

symbolize:
	@llvm-symbolizer --obj=$(KERNEL_ELF) --pretty-print $(ADDR)

# The QEMU tests need the kernel and the initrd; the user tests also run
# `make run` themselves.
test: kernel initrd
	@Tests/run-all.sh

test-host:
	@Tests/run-host-tests.sh

# Misuses of the region views that must not compile (Tests/CompileFail).
test-compile-fail:
	@Tests/run-compile-fail.sh

test-qemu: kernel initrd
	@status=0; qemu/run-qemu-tests.sh || status=1; qemu/run-user-tests.sh || status=1; qemu/run-debug-tests.sh || status=1; exit $$status

test-qemu-kernel: kernel initrd
	@qemu/run-qemu-tests.sh

test-qemu-user: kernel initrd
	@qemu/run-user-tests.sh

# Ctrl-A X, Ctrl-C, the kernel monitor, panics from it, the gdb helpers.
test-qemu-debug: kernel initrd
	@qemu/run-debug-tests.sh

# The host benchmarks, then the same binaries on Linux and on this kernel
# side by side (qemu/bench.sh; the table goes to bench/results/).
bench: bench-host bench-vs-linux

bench-vs-linux: kernel initrd
	@qemu/bench.sh

bench-host:
	swift run -c release MemoryBenchmark

# Costs seen from ring 3 (User/Programs/sysbench), booted as init. TCG, so
# the figures compare kernel paths with each other, not with hardware.
bench-qemu:
	@$(MAKE) -s run INIT=/bin/sysbench

# The syscall fuzzer (User/Programs/fuzz) booted as init: SEED and COUNT
# pick the run (the seed is printed, so a crash replays); the status is
# make run's: non-zero on a kernel panic, a hang (QEMU_TIMEOUT), a leaked
# frame or a fuzzer that could not finish. make test runs a short round.
.PHONY: fuzz
SEED  ?= 1
COUNT ?= 20000
fuzz: kernel initrd
	@$(MAKE) -s run INIT="/bin/fuzz $(SEED) $(COUNT)"

# The host fuzzer (Tests/Fuzz): libFuzzer over the VM on the fake MMU
# (operation sequences against a model, the invariant checker after each)
# and the ELF and ustar parsers. FUZZ_TIME seconds (default 60), FUZZ_SEED,
# FUZZ_JOBS parallel workers; the corpus grows in $(BUILD)/fuzz-host/corpus
# and a failing input is saved as $(BUILD)/fuzz-host/crash-<sha1> (replay:
# .build/fuzz/release/VMFuzz <file>). Ends with libFuzzer's figures
# (executions per second, coverage). swift test runs a fixed seeded round.
.PHONY: fuzz-host
FUZZ_TIME ?= 60
FUZZ_SEED ?= 1
FUZZ_JOBS ?= 1
FUZZ_MAX_LEN ?= 1024
# Run inside $(BUILD)/fuzz-host: with FUZZ_JOBS > 1 libFuzzer writes its
# workers' fuzz-N.log files into the current directory.
fuzz-host:
	swift build --scratch-path .build/fuzz -c release --product VMFuzz --sanitize=fuzzer -Xswiftc -DLIBFUZZER
	@mkdir -p $(BUILD)/fuzz-host/corpus
	cd $(BUILD)/fuzz-host && $(CURDIR)/.build/fuzz/release/VMFuzz -max_total_time=$(FUZZ_TIME) -seed=$(FUZZ_SEED) \
	    -max_len=$(FUZZ_MAX_LEN) -len_control=0 -print_final_stats=1 -artifact_prefix=./ \
	    $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) corpus

clean:
	rm -rf $(BUILD) .build

FORCE:
