; Boot/gdt.asm: load a GDT and reload every segment register.
;
; void hal_load_gdt(uint64_t base, uint16_t limit,
;                   uint16_t code_selector, uint16_t data_selector)
; CS can only be reloaded with a far return, which Swift cannot express.
section .text
bits 64
global hal_load_gdt
hal_load_gdt:
    sub rsp, 16
    mov [rsp], si                   ; limit
    mov [rsp + 2], rdi              ; base
    lgdt [rsp]
    add rsp, 16
    mov ds, cx
    mov es, cx
    mov ss, cx
    xor eax, eax
    mov fs, ax
    mov gs, ax
    ; Far return to the next instruction with the new CS.
    movzx rdx, dx
    lea rax, [rel .reloaded]
    push rdx
    push rax
    retfq
.reloaded:
    ret

; void hal_run_on_stack(uint64_t stack_top, void (*function)(void))
;   Switches to the stack ending at stack_top and calls function, which
;   must never return (the old stack is abandoned).
global hal_run_on_stack
hal_run_on_stack:
    mov rsp, rdi
    xor ebp, ebp
    call rsi
.never:
    cli
    hlt
    jmp .never
