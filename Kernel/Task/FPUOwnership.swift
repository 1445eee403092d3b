import HAL

// Lazy FPU switching: which task's x87/SSE state is live in the registers.
//
// The kernel has no FP code (Boot/fpu.inc), so a task's registers stay in
// the CPU through syscalls, interrupts and switches to other tasks that do
// not return to ring 3 (the idle loop). The return to ring 3 of a task that
// is not the owner saves the owner's registers into its area and loads the
// resumed task's (Boot/fpu.asm, fpu_switch_owner). Linux does the same in
// two halves: switch_fpu_prepare saves at the context switch, and the exit
// to user mode restores when TIF_NEED_FPU_LOAD is set and the registers are
// not already this task's (fpregs_state_valid); here the save is deferred
// too, until another task actually needs the registers.
//
// Invariant (Boot/fpu.asm): the owner is nil or a live task, and a task's
// area is its true state exactly when it is not the owner. Everything that
// reads or replaces a task's area from the kernel goes through here.
enum FPUOwnership {
    /// Whether `task`'s state is the one in the registers (its area stale).
    static func ownsRegisters(_ task: Task) -> Bool { hal_fpu_owner_area() == task.fpuState }

    /// fork: the child starts with the parent's current state, which is
    /// in the registers when the parent owns them, else in its area
    /// (Linux fpu_clone saves the live registers straight into the child).
    static func copyState(of parent: Task, into child: Task) {
        // SAFETY: both areas are Task.fpuStateSize bytes, 16-byte aligned
        // (fxsave's requirement), allocated by Task.init and alive (the
        // child is not in the task table yet, the parent is running).
        if ownsRegisters(parent) {
            hal_fpu_save_live_state(child.fpuState)
        } else {
            child.fpuState.copyMemory(from: parent.fpuState, byteCount: Task.fpuStateSize)
        }
    }

    /// The registers no longer hold anything of `task`'s worth keeping: it
    /// died (its area is freed with it: it must never be saved into), or
    /// its area was just reset for a new program (execve: the return to
    /// ring 3 must load the area, not keep the old program's registers;
    /// Linux fpu_flush_thread). The registers keep their contents, owned
    /// by no one, until the next return to ring 3 loads over them.
    static func release(_ task: Task) {
        if ownsRegisters(task) { hal_fpu_clear_owner() }
    }
}
