// gdb_view: the kernel's tasks in plain C layout, for the gdb helpers
// (qemu/gdbinit). gdb cannot read Swift's types from DWARF, but it reads
// this struct (gdb_view.c is compiled with -g) like any C variable.
//
// Invariants: written only by GDBView.refresh (Kernel/Monitor/GDBView.swift),
// on every timer tick and when the monitor opens, so it is exact as of the
// last tick: a fork or mmap since then shows at the next one. Which task
// runs now is not kept here (`current_pid` is the one at the last tick):
// the helpers find it by matching the CPU's CR3 with the tasks' `cr3`. tasks[0 ..< task_count] are valid; a task's
// regions[0 ..< region_count] are sorted by address (more than
// GDB_VIEW_MAX_REGIONS are cut, `regions_cut` says so).
#pragma once
#include <stdint.h>

#define GDB_VIEW_MAGIC 0x5357494654564945ull   /* "SWIFTVIE" */
#define GDB_VIEW_MAX_TASKS 64
#define GDB_VIEW_MAX_REGIONS 32
#define GDB_VIEW_NAME_BYTES 32

struct gdb_view_region {
    uint64_t start, end;
    uint32_t protection;          // PROT_READ 1 | PROT_WRITE 2 | PROT_EXEC 4
    uint32_t kind;                // 0 image, 1 heap, 2 stack, 3 anonymous
    uint32_t may_protection;      // VM_MAYREAD 1 | VM_MAYWRITE 2 | VM_MAYEXEC 4
    uint32_t backing;             // 0 anon, 1 shmem, 2 file (private), 3 shfile (shared file)
    uint64_t offset;              // bytes into the backing object (0 for anon)
};

struct gdb_view_task {
    int64_t pid, parent_pid;
    uint64_t state;               // 0 ready, 1 running, 2 blocked (console), 3 blocked (wait), 4 zombie
    uint64_t cr3;
    uint64_t frame;               // the saved registers (struct hal_interrupt_frame *)
    uint64_t resident_pages;
    uint64_t region_count;
    uint64_t regions_cut;
    char name[GDB_VIEW_NAME_BYTES];   // NUL-terminated, cut to fit
    struct gdb_view_region regions[GDB_VIEW_MAX_REGIONS];
};

struct gdb_view {
    uint64_t magic;               // GDB_VIEW_MAGIC once written
    uint64_t refreshes;
    int64_t current_pid;
    uint64_t task_count;
    struct gdb_view_task tasks[GDB_VIEW_MAX_TASKS];
};

extern struct gdb_view gdb_view;
/// sizeof(struct gdb_view), then the offsets qemu/gdbinit relies on (gdb_view.c).
extern const uint64_t gdb_view_layout[];

static inline uint64_t gdb_view_size_in_c(void) { return gdb_view_layout[0]; }

static inline struct gdb_view *gdb_view_root(void) { return &gdb_view; }
static inline struct gdb_view_task *gdb_view_task_at(uint64_t index) { return &gdb_view.tasks[index]; }
static inline struct gdb_view_region *gdb_view_region_at(struct gdb_view_task *task, uint64_t index) {
    return &task->regions[index];
}
static inline char *gdb_view_name(struct gdb_view_task *task) { return task->name; }
