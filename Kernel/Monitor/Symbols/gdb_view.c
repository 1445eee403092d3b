// The storage of gdb_view (see gdb_view.h); kept by GDBView.swift.
#include <stddef.h>
#include "gdb_view.h"

struct gdb_view gdb_view;

// The layout qemu/gdbinit assumes, which it checks before reading: gdb
// reads only part of the kernel's DWARF (the Swift unit), so the helpers
// use these numbers instead of the C types.
const uint64_t gdb_view_layout[] = {
    sizeof(struct gdb_view),
    offsetof(struct gdb_view, tasks),
    sizeof(struct gdb_view_task),
    offsetof(struct gdb_view_task, name),
    offsetof(struct gdb_view_task, regions),
    sizeof(struct gdb_view_region),
};
