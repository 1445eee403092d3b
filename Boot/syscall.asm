; Boot/syscall.asm: the `syscall` entry point (MSR LSTAR) and its return.
;
; On `syscall` the CPU saves RIP in RCX and RFLAGS in R11, masks RFLAGS
; with FMASK (interrupts, direction, trap and AC off) and jumps here still
; on the user stack. The entry switches to the running task's kernel stack
; and builds the same hal_interrupt_frame an interrupt would (vector
; SYSCALL_FRAME_VECTOR), so the scheduler handles both alike, then calls
;     hal_interrupt_frame *syscall_dispatch(hal_interrupt_frame *frame)
; The frame it returns is resumed: with sysretq when it is a syscall frame
; of a task returning to a canonical user RIP, otherwise through
; interrupt_return (iretq). Neither path saves or restores the user's
; FPU/SSE registers: the kernel does not use them (fpu.inc); the return
; loads the resumed task's state only when it is not the live one.
;
; One CPU: the two scratch slots below are globals, not per-CPU data.

USER_DATA_SELECTOR     equ 0x23
USER_CODE_SELECTOR     equ 0x2B
SYSCALL_FRAME_VECTOR   equ 256
FRAME_VECTOR_OFFSET    equ 15 * 8
FRAME_RIP_OFFSET       equ 17 * 8
USER_SPACE_LIMIT_SHIFT equ 47
ENOSYS                 equ 38

%include "frame.inc"
%include "fpu.inc"

section .text
bits 64
extern syscall_dispatch, interrupt_return
global syscall_entry
syscall_entry:
    mov [rel syscall_user_rsp], rsp
    mov rsp, [rel syscall_kernel_rsp]
    push USER_DATA_SELECTOR         ; ss
    push qword [rel syscall_user_rsp] ; rsp
    push r11                        ; rflags
    push USER_CODE_SELECTOR         ; cs
    push rcx                        ; rip
    push 0                          ; error code
    push SYSCALL_FRAME_VECTOR
    PUSH_GENERAL_REGISTERS
    cld
    mov rdi, rsp
    xor ebp, ebp
    call syscall_dispatch
    mov rsp, rax

    cmp qword [rsp + FRAME_VECTOR_OFFSET], SYSCALL_FRAME_VECTOR
    jne interrupt_return
    ; sysret to a non-canonical RIP would raise #GP in ring 0 on the
    ; user's RSP (Intel SDM, SYSRET; CVE-2012-0217): leave anything at or
    ; above 2^47 to iretq. iretq is not safe for a non-canonical RIP either
    ; (#GP in ring 0 too), but it faults on the kernel stack, and the
    ; exception table charges that fault to the task (iret_fault_fixup in
    ; interrupts.asm). sysret itself needs no fixup: with RCX canonical and
    ; the fixed STAR selectors it cannot fault.
    mov rcx, [rsp + FRAME_RIP_OFFSET]
    shr rcx, USER_SPACE_LIMIT_SHIFT
    jnz interrupt_return

    LOAD_USER_FPU_STATE_IF_NOT_LIVE
    POP_GENERAL_REGISTERS
    add rsp, 16                     ; vector and error code
    mov rcx, [rsp]                  ; user rip
    mov r11, [rsp + 16]             ; user rflags
    mov rsp, [rsp + 24]             ; user rsp
    o64 sysret

section .data
align 8
global syscall_kernel_rsp
syscall_user_rsp:   dq 0
syscall_kernel_rsp: dq 0            ; top of the running task's kernel stack

; syscall_compat_entry (MSR CSTAR): `syscall` executed in compatibility
; mode. Ring 3 cannot get there (GDT.swift has no 32-bit user code
; segment), but CSTAR must point somewhere safe: left at 0, the CPU would
; run ring 0 at RIP 0 on the user's stack. Like Linux without
; IA32_EMULATION (ignore_sysret): return -ENOSYS at once, touching neither
; the stack nor memory. Interrupts are off (FMASK) until sysret restores
; RFLAGS from R11; NMI, #DF and #MC run on IST stacks.
section .text
global syscall_compat_entry
syscall_compat_entry:
    mov eax, -ENOSYS
    o32 sysret                      ; back to compatibility mode at ECX
