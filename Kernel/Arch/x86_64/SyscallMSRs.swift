import HAL

// The MSRs behind the `syscall` instruction (Intel SDM vol. 2B, SYSCALL and
// SYSRET; AMD APM vol. 2, 6.1.1).
enum SyscallMSRs {
    private static let efer: UInt32 = 0xC000_0080
    private static let star: UInt32 = 0xC000_0081
    private static let lstar: UInt32 = 0xC000_0082
    /// Where `syscall` from compatibility (32-bit) mode goes. AMD CPUs, and
    /// QEMU TCG for every vendor, use it; Intel raises #UD instead.
    private static let cstar: UInt32 = 0xC000_0083
    private static let fmask: UInt32 = 0xC000_0084
    private static let eferSyscallEnable: UInt64 = 1 << 0
    /// RFLAGS bits cleared on entry, as Linux does: TF, IF, DF, IOPL, NT, AC.
    private static let flagsClearedOnEntry: UInt64 = 0x0004_7700
    /// sysret loads SS = base + 8 and CS = base + 16 (both with RPL 3); the
    /// GDT keeps user data right below user code for this (GDT.swift).
    private static let sysretSelectorBase = UInt64(GDT.userCode32 & ~3)

    /// Turns `syscall` on and points it at Boot/syscall.asm.
    ///
    /// Contract: after this, 64-bit `syscall` enters `syscall_entry` and a
    /// compatibility-mode `syscall` enters `syscall_compat_entry`, which
    /// returns -ENOSYS without touching memory (Linux without
    /// IA32_EMULATION: `ignore_sysret`). CSTAR must never stay 0: the CPU
    /// would run ring 0 at RIP 0 on the user's stack. Ring 3 cannot reach
    /// compatibility mode at all (GDT.swift has no 32-bit user code
    /// segment), so the stub is a second line of defence.
    static func install() {
        hal_wrmsr(efer, hal_rdmsr(efer) | eferSyscallEnable)
        hal_wrmsr(star, (sysretSelectorBase << 48) | (UInt64(GDT.kernelCode) << 32))
        hal_wrmsr(lstar, hal_syscall_entry_address())
        hal_wrmsr(cstar, hal_syscall_compat_entry_address())
        hal_wrmsr(fmask, flagsClearedOnEntry)
    }
}
