import HAL

// A task's data segment selectors: DS, ES, FS and GS (Linux thread_struct:
// ds, es, fsindex, gsindex; saved and loaded in __switch_to).
//
// Ring 3 can load any present DPL-3 data or readable code selector into
// them (User/Tests/hostile, "odd-segment-selectors"), and neither the
// syscall nor the interrupt path touches them, so without a per-task copy
// one task's selectors would show in the next task that runs
// (User/Tests/info_leaks). The rules, as Linux's:
//   - a switch saves the outgoing task's selectors and loads the incoming
//     one's (only when they differ: a segment load is not free);
//   - fork copies the parent's live selectors (copy_thread);
//   - execve starts the program with all four null (start_thread_common).
// FS and GS bases need no copy of their own here: CR4.FSGSBASE is off and
// there is no arch_prctl, so the only way to set a base is loading a
// selector, which takes the descriptor's base, 0 for every GDT entry. When
// arch_prctl(ARCH_SET_FS) comes, MSR_FS_BASE and MSR_KERNEL_GS_BASE join
// this state (Linux save_fsgs / x86_fsgsbase_load).
// Loading a saved selector in ring 0 cannot fault: it was loaded by the
// CPU before (so it is valid, and its accessed bit set), and the GDT never
// changes after boot.
struct UserSegments: Equatable {
    var ds: UInt16
    var es: UInt16
    var fs: UInt16
    var gs: UInt16

    /// What a new program starts with.
    static let null = UserSegments(ds: 0, es: 0, fs: 0, gs: 0)

    /// The selectors in the CPU now (the running task's).
    static func live() -> UserSegments {
        let s = hal_read_segments()
        return UserSegments(ds: s.ds, es: s.es, fs: s.fs, gs: s.gs)
    }

    /// Puts these selectors in the CPU.
    func load() {
        hal_load_segments(hal_segments(ds: ds, es: es, fs: fs, gs: gs))
    }
}
