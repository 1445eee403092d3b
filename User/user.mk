# User/user.mk: user programs and the boot archive (included by Makefile).
#
#   make user      every program and test -> $(BUILD)/user/bin/<name>
#   make initrd    $(BUILD)/initrd.tar (ustar): bin/<name> for each of them,
#                  plus EXTRA_PROGRAMS="path/a path/b" as bin/a, bin/b
#
# Design: the runtime (User/Runtime) is built once: start.o (nasm), libc.o
# (clang, freestanding) and the Swift module UserRuntime (object +
# .swiftmodule). Each Swift program is its own Embedded Swift module
# (User/Programs/<name>/*.swift or User/Tests/<name>/*.swift) importing
# UserRuntime, linked by ld.lld with User/Runtime/user.ld at 0x400000. C
# programs (User/Programs/<name>/*.c) are built by gcc as static non-PIE
# executables with their own _start. The same binaries run on the Linux host
# (Tests/run-user-native.sh) and on the kernel.

USER_DIR      := $(BUILD)/user
USER_BIN      := $(USER_DIR)/bin
USER_OBJ      := $(USER_DIR)/obj
USER_CC       ?= gcc
TAR           ?= tar

USER_RUNTIME_SWIFT := $(sort $(wildcard User/Runtime/Swift/*.swift))
USER_RUNTIME_H     := $(wildcard User/Runtime/C/*.h User/Runtime/C/*.modulemap)
USER_LINKER_SCRIPT := User/Runtime/user.ld

# Program name -> its source directory. Tests and programs share bin/.
USER_SWIFT_PROGRAMS := $(sort $(patsubst User/Programs/%/,%,$(dir $(wildcard User/Programs/*/*.swift))))
USER_C_PROGRAMS     := $(sort $(patsubst User/Programs/%/,%,$(dir $(wildcard User/Programs/*/*.c))))
USER_TESTS          := $(sort $(patsubst User/Tests/%/,%,$(dir $(wildcard User/Tests/*/*.swift))))
# C tests (User/Tests/<name>/*.c): gcc, with the header User/Runtime/ctest.h.
USER_C_TESTS        := $(sort $(patsubst User/Tests/%/,%,$(dir $(wildcard User/Tests/*/*.c))))
USER_ALL_NAMES      := $(USER_SWIFT_PROGRAMS) $(USER_C_PROGRAMS) $(USER_TESTS) $(USER_C_TESTS)
USER_BINARIES       := $(addprefix $(USER_BIN)/,$(USER_ALL_NAMES))

# Embedded Swift for ring 3: like the kernel's flags, but the red zone is
# allowed (user code runs on its own stack) and no HAL.
USER_SWIFT_FLAGS := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded \
                    -wmo -parse-as-library -Osize \
                    -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
                    -Xcc -ffreestanding -I User/Runtime/C \
                    -module-cache-path $(USER_OBJ)/module-cache
USER_C_FLAGS     := -target x86_64-unknown-none-elf -ffreestanding -fno-builtin -nostdlib \
                    -fno-stack-protector -O2 -Wall -Werror -I User/Runtime
USER_GCC_FLAGS   := -static -nostdlib -fno-pie -no-pie -ffreestanding -O2 -Wall -Werror
USER_LD_FLAGS    := -static -nostdlib --gc-sections -z max-page-size=4096 -T $(USER_LINKER_SCRIPT)
USER_RUNTIME_OBJS := $(USER_OBJ)/start.o $(USER_OBJ)/libc.o $(USER_OBJ)/UserRuntime.o

INITRD       := $(BUILD)/initrd.tar
INITRD_ROOT  := $(USER_DIR)/initrd-root
EXTRA_PROGRAMS ?=

.PHONY: user initrd

user: $(USER_BINARIES)

$(USER_OBJ)/start.o: User/Runtime/start.asm User/user.mk
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 $< -o $@

$(USER_OBJ)/libc.o: User/Runtime/libc.c $(USER_RUNTIME_H) User/user.mk
	@mkdir -p $(dir $@)
	$(CC_KERNEL) $(USER_C_FLAGS) -c $< -o $@

# The runtime module: one object and the .swiftmodule programs import.
$(USER_OBJ)/UserRuntime.o: $(USER_RUNTIME_SWIFT) $(USER_RUNTIME_H) User/user.mk
	@mkdir -p $(dir $@)
	$(SWIFTC) $(USER_SWIFT_FLAGS) -module-name UserRuntime \
	    -emit-module -emit-module-path $(USER_OBJ)/UserRuntime.swiftmodule \
	    -c $(USER_RUNTIME_SWIFT) -o $@

# user_swift_program(name, source dir): compile the module, link the binary.
# The directory name is the Swift module name, so it must be an identifier.
define user_swift_program
$(USER_OBJ)/programs/$(1).o: $(wildcard $(2)/$(1)/*.swift) $(USER_OBJ)/UserRuntime.o
	@mkdir -p $$(dir $$@)
	$$(SWIFTC) $$(USER_SWIFT_FLAGS) -module-name $(1) -I $$(USER_OBJ) \
	    -c $(wildcard $(2)/$(1)/*.swift) -o $$@

$(USER_BIN)/$(1): $(USER_OBJ)/programs/$(1).o $(USER_RUNTIME_OBJS) $(USER_LINKER_SCRIPT)
	@mkdir -p $$(dir $$@)
	$$(LD_KERNEL) $$(USER_LD_FLAGS) $(USER_RUNTIME_OBJS) $(USER_OBJ)/programs/$(1).o \
	    $$(SWIFT_EMBEDDED_LIBS) -o $$@
endef

# user_c_program(name): gcc, static, no libc; may use User/Runtime/ctest.h
# (syscalls, printing, _start) or bring its own _start.
define user_c_program
$(USER_BIN)/$(1): $(wildcard User/Programs/$(1)/*.c) User/Runtime/ctest.h User/user.mk
	@mkdir -p $$(dir $$@)
	$$(USER_CC) $$(USER_GCC_FLAGS) -I User/Runtime $(wildcard User/Programs/$(1)/*.c) -o $$@
endef

$(foreach name,$(USER_SWIFT_PROGRAMS),$(eval $(call user_swift_program,$(name),User/Programs)))
$(foreach name,$(USER_TESTS),$(eval $(call user_swift_program,$(name),User/Tests)))
$(foreach name,$(USER_C_PROGRAMS),$(eval $(call user_c_program,$(name))))

# user_c_test(name): like user_c_program, from User/Tests, with ctest.h.
define user_c_test
$(USER_BIN)/$(1): $(wildcard User/Tests/$(1)/*.c) User/Runtime/ctest.h User/user.mk
	@mkdir -p $$(dir $$@)
	$$(USER_CC) $$(USER_GCC_FLAGS) -I User/Runtime $(wildcard User/Tests/$(1)/*.c) -o $$@
endef
$(foreach name,$(USER_C_TESTS),$(eval $(call user_c_test,$(name))))

# Rebuilt every time: cheap, and EXTRA_PROGRAMS may differ between runs.
# Fixed owner, mode and mtime keep the archive reproducible.
initrd: $(USER_BINARIES)
	@rm -rf $(INITRD_ROOT) && mkdir -p $(INITRD_ROOT)/bin
	@cp $(USER_BINARIES) $(INITRD_ROOT)/bin/
	@$(foreach extra,$(EXTRA_PROGRAMS),cp $(extra) $(INITRD_ROOT)/bin/$(notdir $(extra)) &&) true
	$(TAR) --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name \
	    -cf $(INITRD).tmp -C $(INITRD_ROOT) bin
	@mv $(INITRD).tmp $(INITRD)
	@echo "$(INITRD): $$(ls $(INITRD_ROOT)/bin | wc -l) programs"

# The benchmark programs (User/Programs/bench_*, `make bench`) share
# User/Bench/bench.h.
$(filter $(USER_BIN)/bench_%,$(USER_BINARIES)): $(wildcard User/Bench/*.h)
