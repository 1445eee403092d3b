; Boot/probe.asm: memory accesses that may fault, with recovery.
;
; Each access that may fault is listed in the exception table (section
; .extable: pairs of faulting instruction, fixup). When an exception hits
; one of them, ExceptionFixup (Kernel/Arch/x86_64/ExceptionFixup.swift)
; resumes at the fixup, which returns -1 instead of crashing the kernel.
; This is how Linux recovers in copy_from_user (arch/x86/mm/extable.c).

%include "extable.inc"

section .text
bits 64

; int64_t hal_probe_read_byte(const void *address)
;   the byte, or -1 if reading it faulted.
global hal_probe_read_byte
hal_probe_read_byte:
.access:
    movzx eax, byte [rdi]
    ret
.fixup:
    mov rax, -1
    ret
EXTABLE hal_probe_read_byte.access, hal_probe_read_byte.fixup

; int64_t hal_probe_write_byte(void *address, uint8_t value)
;   0, or -1 if writing it faulted.
global hal_probe_write_byte
hal_probe_write_byte:
.access:
    mov [rdi], sil
    xor eax, eax
    ret
.fixup:
    mov rax, -1
    ret
EXTABLE hal_probe_write_byte.access, hal_probe_write_byte.fixup

; int64_t hal_probe_execute(const void *address)
;   calls address (which must hold a `ret`): 0, or -1 if fetching faulted.
;   The fault is taken at `address` itself, so ExceptionFixup matches it by
;   hal_probe_execute_target, not by the table, and unwinds the call.
global hal_probe_execute, hal_probe_execute_target, hal_probe_execute_fixup
hal_probe_execute:
    mov [rel hal_probe_execute_target], rdi
    call rdi
    mov qword [rel hal_probe_execute_target], 0
    xor eax, eax
    ret
hal_probe_execute_fixup:
    mov qword [rel hal_probe_execute_target], 0
    mov rax, -1
    ret

section .data
align 8
hal_probe_execute_target: dq 0
