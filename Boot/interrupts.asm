; Boot/interrupts.asm: one entry stub per IDT vector, and the common path.
;
; Each stub makes the stack uniform (pushes a zero error code when the CPU
; did not push one, then the vector number) and jumps to interrupt_common,
; which saves every general register in the layout of hal_interrupt_frame
; (Kernel/Arch/x86_64/HAL/hal.h) and calls
;     hal_interrupt_frame *interrupt_dispatch(hal_interrupt_frame *frame)
; The frame it returns is the one resumed, which lets the scheduler switch
; tasks by returning another task's saved frame.

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

FRAME_CS_OFFSET_BEFORE_SAVE equ 24  ; vector, error code, rip, then cs

interrupt_common:
    ; Coming from ring 3: switch GS to the kernel's per-CPU base.
    test qword [rsp + FRAME_CS_OFFSET_BEFORE_SAVE], 3
    jz .from_kernel
    swapgs
.from_kernel:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp                    ; 16-byte aligned here (see hal.h)
    xor ebp, ebp                    ; backtraces stop at the interrupt
    call interrupt_dispatch
    mov rsp, rax                    ; the frame to resume
global interrupt_return
interrupt_return:
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                     ; vector and error code
    test qword [rsp + 8], 3         ; returning to ring 3?
    jz .to_kernel
    swapgs
.to_kernel:
    iretq

section .rodata
align 8
global isr_stub_table
isr_stub_table:
%assign v 0
%rep 256
    dq isr_stub_ %+ v
%assign v v + 1
%endrep
