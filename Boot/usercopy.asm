; Boot/usercopy.asm: copying between kernel and user memory.
;
; uint64_t hal_user_copy(void *destination, const void *source, uint64_t count)
;   Copies count bytes with SMAP's access check lifted (stac ... clac).
;   Returns 0, or the number of bytes NOT copied when a fault stopped it.
;   The caller (Kernel/Arch/x86_64/UserMemory.swift) has already checked
;   that the user side lies wholly in user space, so a fault here can only
;   be an unmapped or protected user page: the fixup turns it into a short
;   copy, which the syscall reports as -EFAULT. (Linux: copy_user_generic
;   with its exception-table entries.)
%include "extable.inc"
%define SMAP_FLAG_DEFINED_HERE
%include "smap.inc"

section .data
global smap_enabled
smap_enabled: db 0                  ; set once SMAP is on in CR4

section .text
bits 64
global hal_user_copy
hal_user_copy:
    mov rcx, rdx
    STAC_IF_SMAP
.access:
    rep movsb
    CLAC_IF_SMAP
    xor eax, eax
    ret
.fixup:
    CLAC_IF_SMAP
    mov rax, rcx                    ; rep movsb leaves the remaining count in rcx
    ret
EXTABLE hal_user_copy.access, hal_user_copy.fixup
