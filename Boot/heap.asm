; Boot/heap.asm: static memory for the kernel heap (Kernel/Init/KernelHeapSetup.swift).
;
; The arena is the first part of the heap window and is backed by the image
; itself; Linker/kernel.ld places it at the very end of .bss so the rest of
; the window follows the image in virtual memory.
HEAP_ARENA_SIZE     equ 4 * 1024 * 1024
HEAP_WINDOW_SIZE    equ 256 * 1024 * 1024
PAGE_SIZE           equ 4096
HEAP_PAGE_INFO_SIZE equ 16
HEAP_CLASS_COUNT    equ 8

section .heap_arena nobits alloc noexec write
align 4096
global heap_arena_start
heap_arena_start:
    resb HEAP_ARENA_SIZE

section .bss
align 16
global heap_metadata
heap_metadata:
    resb (HEAP_WINDOW_SIZE / PAGE_SIZE) * HEAP_PAGE_INFO_SIZE + HEAP_CLASS_COUNT * 4

section .rodata
global heap_window_pages, heap_arena_pages
heap_window_pages: dq HEAP_WINDOW_SIZE / PAGE_SIZE
heap_arena_pages:  dq HEAP_ARENA_SIZE / PAGE_SIZE
