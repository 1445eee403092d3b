; Boot/fpu.asm: the only code that touches x87/SSE state (the allow-list of
; Linker/check-no-fpu.sh names these two functions), and the two pointers
; of lazy FPU switching (fpu.inc says when they are used).
;
; Invariant: fpu_owner_area is 0 or the fxsave area of a live task whose
; state is the one in the registers; that area may then be stale, the
; registers are the truth. The kernel clears it when the owner dies or
; starts a new program (Kernel/Task/FPUOwnership.swift), so nothing is
; ever saved into freed memory or carried across execve.
; One CPU: two globals, not per-CPU data (Linux: fpu_fpregs_owner_ctx).

%define FPU_STATE_DEFINED_HERE
%include "fpu.inc"

section .data
align 8
global current_fpu_state, fpu_owner_area
; The fxsave area (512 bytes, 16-aligned) of the task the scheduler runs
; (Scheduler.switchTo sets it before any return to ring 3).
current_fpu_state: dq 0
; The area of the task whose state is in the registers; 0: none (at boot,
; and after the owner exited or exec'ed).
fpu_owner_area:    dq 0

section .text
bits 64

; fpu_switch_owner: RAX = the area of the task about to return to ring 3,
; which is not the owner. Saves the registers into the owner's area (if
; there is an owner), loads RAX's, and makes it the owner (Linux
; save_fpregs_to_fpstate + restore_fpregs_from_fpstate). fxsave and fxrstor
; neither raise a pending x87 exception nor check it (Intel SDM vol. 2,
; FXSAVE), so a task's pending exception travels with its state.
; Clobbers RCX.
global fpu_switch_owner
fpu_switch_owner:
    mov rcx, [rel fpu_owner_area]
    test rcx, rcx
    jz .load
    fxsave64 [rcx]
.load:
    fxrstor64 [rax]
    mov [rel fpu_owner_area], rax
    ret

; void fpu_save_live_state(void *area): the registers' x87/SSE state into
; AREA (16-aligned, 512 bytes); fork's copy of a parent that owns them
; (Linux fpu_clone: save_fpregs_to_fpstate straight into the child).
global fpu_save_live_state
fpu_save_live_state:
    fxsave64 [rdi]
    ret
