; User/Runtime/start.asm: process entry and the raw system-call gate.
;
; Design: the kernel (or Linux) enters _start with RSP pointing at argc,
; followed by argv[], NULL, envp[], NULL, auxv pairs (SysV x86-64 ABI 3.4.1).
; _start records that address for the Swift runtime (argv/envp/auxv access),
; re-aligns the stack to 16 bytes (the ABI promises it, but we do not rely on
; the loader), calls the Swift `main(argc, argv, envp)` that `@main` emits, and
; hands its result to user_exit, which flushes buffered output and calls
; exit_group. Nothing here needs a heap or TLS.

bits 64
default rel

section .bss
align 8
global user_initial_stack
user_initial_stack: resq 1          ; RSP at process entry (points at argc)

section .text

extern main
extern user_exit

; _start: process entry. Contract: RSP = initial stack per the Linux layout;
; never returns.
global _start
_start:
    xor     ebp, ebp                ; outermost frame for backtraces
    mov     [user_initial_stack], rsp
    mov     rdi, [rsp]              ; argc
    lea     rsi, [rsp + 8]          ; argv
    lea     rdx, [rsi + rdi*8 + 8]  ; envp: after argv[argc] == NULL
    and     rsp, -16                ; 16-byte alignment before the call
    call    main
    mov     edi, eax
    call    user_exit
    ud2                             ; user_exit does not return

; long user_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
; Contract: performs Linux x86-64 system call `nr` with up to six arguments
; and returns RAX unchanged (a negative errno on failure). SysV passes the
; arguments in RDI, RSI, RDX, RCX, R8, R9, [RSP+8]; the syscall ABI wants
; RAX, RDI, RSI, RDX, R10, R8, R9. RCX and R11 are clobbered by `syscall`,
; which the C calling convention allows.
global user_syscall6
user_syscall6:
    mov     rax, rdi
    mov     rdi, rsi
    mov     rsi, rdx
    mov     rdx, rcx
    mov     r10, r8
    mov     r8, r9
    mov     r9, [rsp + 8]
    syscall
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
