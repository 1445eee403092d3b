# SwiftKernel: an Embedded Swift kernel for x86-64.
#
#   make run     build, then boot in QEMU with the serial console on this terminal
#   make test    every test: host (SwiftPM) and in-QEMU; ends with "N passed, N failed"
#   make debug   boot halted with a GDB server and attach gdb
#   make help    everything else
#
# Missing packages are installed on first use (qemu/ensure-deps.sh).

BUILD       := build
SWIFTC      ?= swiftc
CC_KERNEL   ?= clang
LD_KERNEL   ?= ld.lld
NASM        ?= nasm

KERNEL_ELF  := $(BUILD)/kernel.elf
KERNEL_ISO  := $(BUILD)/kernel.iso
CMDLINE     ?=

KERNEL_SWIFT := $(shell find Kernel -name '*.swift' | sort)
KERNEL_C     := $(shell find Kernel -name '*.c' | sort)
KERNEL_H     := $(shell find Kernel -name '*.h' -o -name '*.modulemap')
BOOT_ASM     := $(sort $(wildcard Boot/*.asm))
KERNEL_OBJS  := $(BUILD)/kernel/swift.o \
                $(patsubst Kernel/%.c,$(BUILD)/kernel/%.o,$(KERNEL_C)) \
                $(patsubst Boot/%.asm,$(BUILD)/boot/%.o,$(BOOT_ASM))

# Embedded Swift for bare metal (see ../shared/notes/embedded-swift-x86_64.md):
# optimised (the runtime's red-zone use goes away), no red zone, no stack
# protector, one object for the whole module.
SWIFT_FLAGS := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded \
               -wmo -parse-as-library -Osize -module-name Kernel \
               -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
               -Xcc -mno-red-zone -Xcc -ffreestanding -Xcc -fno-omit-frame-pointer \
               -I Kernel/Arch/x86_64/HAL -g
C_FLAGS     := -target x86_64-unknown-none-elf -ffreestanding -fno-builtin -nostdlib \
               -mno-red-zone -fno-stack-protector -fno-omit-frame-pointer \
               -O2 -g -Wall -Werror
SWIFT_ROOT  := $(abspath $(dir $(shell command -v $(SWIFTC)))/..)
# String comparison and hashing need the Unicode tables (toolchain notes).
SWIFT_EMBEDDED_LIBS := $(SWIFT_ROOT)/lib/swift/embedded/x86_64-unknown-none-elf/libswiftUnicodeDataTables.a
LD_FLAGS    := -n -static -nostdlib --gc-sections -T Linker/kernel.ld

.PHONY: all kernel iso run test test-host test-qemu bench bench-host debug symbolize deps clean help

all: kernel

help:
	@sed -n '1,10p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Other targets: kernel, iso, test-host, test-qemu, bench-host, symbolize ADDR=..., deps, clean"
	@echo "Variables: CMDLINE=\"...\" (kernel command line for run/debug), QEMU_TIMEOUT=seconds"

deps:
	@qemu/ensure-deps.sh

kernel: $(KERNEL_ELF)

$(BUILD)/kernel/swift.o: $(KERNEL_SWIFT) $(KERNEL_H) Makefile | deps
	@mkdir -p $(dir $@)
	$(SWIFTC) $(SWIFT_FLAGS) -c $(KERNEL_SWIFT) -o $@

$(BUILD)/kernel/%.o: Kernel/%.c $(KERNEL_H) Makefile | deps
	@mkdir -p $(dir $@)
	$(CC_KERNEL) $(C_FLAGS) -c $< -o $@

$(BUILD)/boot/%.o: Boot/%.asm $(wildcard Boot/*.inc) | deps
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -g -F dwarf -i Boot/ $< -o $@

$(KERNEL_ELF): $(KERNEL_OBJS) Linker/kernel.ld Linker/check-image.sh
	$(LD_KERNEL) $(LD_FLAGS) $(KERNEL_OBJS) $(SWIFT_EMBEDDED_LIBS) -o $@.tmp
	Linker/check-image.sh $@.tmp
	mv $@.tmp $@

$(KERNEL_ISO): $(KERNEL_ELF) qemu/make-iso.sh FORCE
	@qemu/make-iso.sh $@ $(KERNEL_ELF) "$(CMDLINE)"

iso: $(KERNEL_ISO)

include User/user.mk

run: $(KERNEL_ISO)
	@qemu/run-qemu.sh $(KERNEL_ISO)

debug: $(KERNEL_ISO)
	@qemu/debug.sh $(KERNEL_ISO) $(KERNEL_ELF)

symbolize:
	@llvm-symbolizer --obj=$(KERNEL_ELF) --pretty-print $(ADDR)

test: kernel
	@Tests/run-all.sh

test-host:
	@Tests/run-host-tests.sh

test-qemu: kernel
	@qemu/run-qemu-tests.sh

bench: bench-host

bench-host:
	swift run -c release MemoryBenchmark

clean:
	rm -rf $(BUILD) .build

FORCE:
