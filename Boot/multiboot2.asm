; Boot/multiboot2.asm: from GRUB to kernel_main.
;
; GRUB loads the ELF image at its physical addresses and jumps to `_start32`
; in 32-bit protected mode with paging off. This stub:
;   1. checks the multiboot2 magic and that the CPU can run in long mode;
;   2. builds boot page tables that map the first 4 GiB three times:
;        identity            0x0000000000000000  (so this code keeps running)
;        kernel image alias  0x00007f8000000000  (KERNEL_VMA, PML4 slot 255)
;        direct map          0xffff800000000000  (PML4 slot 256)
;   3. enables SSE (for ring 3), PAE, long mode, NX and write protection, and paging;
;   4. jumps to 64-bit code at the kernel's link address and calls
;      kernel_main(magic, multiboot_info_physical).
;
; The kernel is linked at KERNEL_VMA, below 2^47, because Swift uses the top
; bits of object pointers as spare bits (see the README, "Memory layout").
; The kernel later replaces these tables with its own (Kernel/Memory).

KERNEL_VMA              equ 0x00007F8000000000
MULTIBOOT2_MAGIC        equ 0xE85250D6
MULTIBOOT2_BOOT_MAGIC   equ 0x36D76289
MULTIBOOT2_ARCH_I386    equ 0

PAGE_PRESENT            equ 1 << 0
PAGE_WRITABLE           equ 1 << 1
PAGE_HUGE               equ 1 << 7

CR0_PE                  equ 1 << 0
CR0_MP                  equ 1 << 1
CR0_EM                  equ 1 << 2
CR0_NE                  equ 1 << 5
CR0_WP                  equ 1 << 16
CR0_PG                  equ 1 << 31
CR4_PAE                 equ 1 << 5
CR4_OSFXSR              equ 1 << 9
CR4_OSXMMEXCPT          equ 1 << 10
MSR_EFER                equ 0xC0000080
EFER_LME                equ 1 << 8
EFER_NXE                equ 1 << 11
CPUID_EXT_NX            equ 1 << 20
CPUID_EXT_LM            equ 1 << 29

COM1                    equ 0x3F8
BOOT_STACK_SIZE         equ 64 * 1024

; ---------------------------------------------------------------------------
section .multiboot_header
align 8
mb2_header:
    dd MULTIBOOT2_MAGIC
    dd MULTIBOOT2_ARCH_I386
    dd mb2_header_end - mb2_header
    dd -(MULTIBOOT2_MAGIC + MULTIBOOT2_ARCH_I386 + (mb2_header_end - mb2_header))
    ; End tag.
    align 8
    dw 0
    dw 0
    dd 8
mb2_header_end:

; ---------------------------------------------------------------------------
section .boot.text progbits alloc exec nowrite
bits 32
global _start32
_start32:
    cli
    mov esp, boot32_stack_top
    mov edi, eax                    ; multiboot2 magic (kept for kernel_main)
    mov esi, ebx                    ; multiboot2 information, physical

    cmp eax, MULTIBOOT2_BOOT_MAGIC
    jne .not_multiboot2

    ; Long mode available? (CPUID 0x80000001, EDX bit 29)
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, CPUID_EXT_LM
    jz .no_long_mode
    mov ebp, edx                    ; remember NX support

    ; PDs: 4 x 512 entries of 2 MiB pages = the first 4 GiB.
    mov ecx, 0
.fill_pd:
    mov eax, ecx
    shl eax, 21
    or eax, PAGE_PRESENT | PAGE_WRITABLE | PAGE_HUGE
    mov [boot_pd + ecx * 8], eax
    mov eax, ecx
    shr eax, 11                     ; high half of (ecx << 21)
    mov [boot_pd + ecx * 8 + 4], eax
    inc ecx
    cmp ecx, 4 * 512
    jne .fill_pd

    ; PDPT: 4 entries, one per PD.
    mov ecx, 0
.fill_pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, boot_pd
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pdpt + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jne .fill_pdpt

    ; PML4: identity (slot 0), kernel alias (slot 255), direct map (slot 256).
    mov eax, boot_pdpt
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pml4 + 0 * 8], eax
    mov [boot_pml4 + 255 * 8], eax
    mov [boot_pml4 + 256 * 8], eax

    ; SSE on for user programs (the kernel itself has no FP code, fpu.inc:
    ; CR4.OSFXSR lets fxsave/fxrstor carry the XMM registers). NE: x87 errors
    ; raise #MF in the task that caused them (SIGFPE), as on Linux, not the
    ; legacy FERR# interrupt.
    mov eax, cr0
    and eax, ~CR0_EM
    or eax, CR0_MP | CR0_NE
    mov cr0, eax
    mov eax, cr4
    or eax, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, eax

    mov eax, boot_pml4
    mov cr3, eax

    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    test ebp, CPUID_EXT_NX
    jz .no_nx
    or eax, EFER_NXE
.no_nx:
    wrmsr

    mov eax, cr0
    or eax, CR0_PG | CR0_PE | CR0_WP
    mov cr0, eax

    lgdt [boot_gdt_pointer]
    jmp 0x08:long_mode_entry

.not_multiboot2:
    mov ebx, msg_not_multiboot2
    jmp boot_fail
.no_long_mode:
    mov ebx, msg_no_long_mode
    jmp boot_fail

; Prints the NUL-terminated string at EBX on COM1 and halts.
boot_fail:
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov al, [ebx]
    test al, al
    jz .halt
    mov dx, COM1
    out dx, al
    inc ebx
    jmp boot_fail
.halt:
    hlt
    jmp .halt

bits 64
long_mode_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rax, higher_entry
    jmp rax

; ---------------------------------------------------------------------------
section .boot.data progbits alloc noexec write
align 8
boot_gdt:
    dq 0                            ; null
    dq 0x00AF9A000000FFFF           ; 0x08: 64-bit code, ring 0
    dq 0x00CF92000000FFFF           ; 0x10: data, ring 0
boot_gdt_end:
boot_gdt_pointer:
    dw boot_gdt_end - boot_gdt - 1
    dd boot_gdt
msg_not_multiboot2: db "boot: not loaded by a multiboot2 loader", 13, 10, 0
msg_no_long_mode:   db "boot: this CPU has no long mode (x86-64)", 13, 10, 0

section .boot.bss nobits alloc noexec write
align 4096
boot_pml4:  resb 4096
boot_pdpt:  resb 4096
boot_pd:    resb 4 * 4096
boot32_stack: resb 4096
boot32_stack_top:

; ---------------------------------------------------------------------------
; From here on: linked at KERNEL_VMA.
section .text
bits 64
extern kernel_main
higher_entry:
    mov rsp, boot_stack_top
    xor rbp, rbp                    ; ends frame-pointer backtraces
    ; rdi = magic, rsi = multiboot information (physical): kernel_main's arguments.
    call kernel_main
.hang:
    cli
    hlt
    jmp .hang

section .bss
align 4096
global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    resb BOOT_STACK_SIZE
boot_stack_top:
