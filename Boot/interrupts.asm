; Boot/interrupts.asm: one entry stub per IDT vector, and the common path.
;
; Each stub makes the stack uniform (pushes a zero error code when the CPU
; did not push one, then the vector number) and jumps to interrupt_common,
; which saves every general register in the layout of hal_interrupt_frame
; (Kernel/Arch/x86_64/HAL/hal.h) and calls
;     hal_interrupt_frame *interrupt_dispatch(hal_interrupt_frame *frame)
; The frame it returns is the one resumed, which lets the scheduler switch
; tasks by returning another task's saved frame.
;
; FPU/SSE state: the kernel has no x87/SSE code (fpu.inc), so the user's
; registers stay live through the kernel: the entry saves nothing, and the
; return to ring 3 loads the resumed task's state only when another task's
; is the live one (lazy switching, Boot/fpu.asm). Kernel code runs with
; interrupts off except in the idle loop.
; One CPU: no swapgs, no per-CPU GS base.

%include "frame.inc"
%include "smap.inc"
%include "extable.inc"
%include "fpu.inc"

section .text
bits 64
extern interrupt_dispatch

; Vectors for which the CPU pushes an error code (Intel SDM vol. 3, 6.13).
%macro ISR_NOERR 1
isr_stub_%1:
    push 0
    push %1
    jmp interrupt_common
%endmacro
%macro ISR_ERR 1
isr_stub_%1:
    push %1
    jmp interrupt_common
%endmacro

%assign v 0
%rep 256
%if v = 8 || v = 10 || v = 11 || v = 12 || v = 13 || v = 14 || v = 17 || v = 21 || v = 29 || v = 30
    ISR_ERR v
%else
    ISR_NOERR v
%endif
%assign v v + 1
%endrep

FRAME_CS_OFFSET equ 18 * 8         ; 15 registers, vector, error code, rip, then cs
IRET_FRAME_CS_OFFSET equ 8          ; rip, then cs
GENERAL_PROTECTION_VECTOR equ 13

interrupt_common:
    PUSH_GENERAL_REGISTERS
    cld
    CLAC_IF_SMAP                    ; gates keep the user's RFLAGS.AC: drop it (Linux ASM_CLAC)
.dispatch:                          ; names what follows the macro's ..@N.skip in backtraces
    mov rdi, rsp                    ; 16-byte aligned here (see hal.h)
    xor ebp, ebp                    ; backtraces stop at the interrupt
    call interrupt_dispatch
    mov rsp, rax                    ; the frame to resume
global interrupt_return
interrupt_return:
    test qword [rsp + FRAME_CS_OFFSET], 3
    jz .to_kernel
    LOAD_USER_FPU_STATE_IF_NOT_LIVE
.to_kernel:
    POP_GENERAL_REGISTERS
    add rsp, 16                     ; vector and error code
.iret:
    iretq

; iretq can fault in ring 0 before it leaves: #GP for a non-canonical RIP
; (Intel SDM, IRET: the check comes before the privilege change) or a bad
; CS/SS, #NP/#SS for a segment the frame names. The exception table sends
; such a fault here, with RSP back at the iret frame and every register
; holding the task's values. Like Linux's fixup_bad_iret, the fault is then
; charged to the task: this rebuilds the frame a #GP from ring 3 would have
; pushed (the iret frame's CS has RPL 3) and takes the common path, which
; kills the task with SIGSEGV (Lifecycle.killForFault). Linux sends SIGBUS
; for the #NP/#SS cases; no frame this kernel builds can reach them.
; A fault returning to ring 0 has no fixup: that is a kernel bug and panics.
global interrupt_return_iret, iret_fault_fixup
interrupt_return_iret equ interrupt_return.iret
iret_fault_fixup:
    test qword [rsp + IRET_FRAME_CS_OFFSET], 3
    jz .kernel_frame
    push 0                          ; error code
    push GENERAL_PROTECTION_VECTOR
    jmp interrupt_common
.kernel_frame:
    ud2                             ; panics (no fixup for this one)
EXTABLE interrupt_return.iret, iret_fault_fixup

section .rodata
align 8
global isr_stub_table
isr_stub_table:
%assign v 0
%rep 256
    dq isr_stub_ %+ v
%assign v v + 1
%endrep
