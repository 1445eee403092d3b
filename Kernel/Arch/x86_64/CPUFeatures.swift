import HAL

// CPU features the kernel uses, read from CPUID, and the protection bits it
// turns on: NX (EFER.NXE), CR0.WP, SMEP, SMAP and UMIP when the CPU has them.
// UMIP makes sgdt, sidt, sldt, str and smsw in ring 3 raise #GP (SIGSEGV),
// so they cannot reveal the kernel addresses of the GDT, IDT and TSS.
// Known deviation: Linux emulates sgdt, sidt and smsw for user space with
// dummy values (arch/x86/kernel/umip.c); this kernel kills the task.
// qemu/qemu.conf runs `-cpu max`, which has all of them under TCG.
struct CPUFeatures {
    var noExecute = false        // CPUID 0x80000001 EDX[20]
    var gigabytePages = false    // CPUID 0x80000001 EDX[26]
    var smep = false             // CPUID 7.0 EBX[7]
    var smap = false             // CPUID 7.0 EBX[20]
    var umip = false             // CPUID 7.0 ECX[2]
    var globalPages = false      // CPUID 1 EDX[13]
    var fxsave = false           // CPUID 1 EDX[24]

    static let cr0WriteProtect: UInt64 = 1 << 16
    static let cr4GlobalPages: UInt64 = 1 << 7
    static let cr4SMEP: UInt64 = 1 << 20
    static let cr4SMAP: UInt64 = 1 << 21
    static let cr4UMIP: UInt64 = 1 << 11
    static let msrEFER: UInt32 = 0xC000_0080
    static let eferNoExecute: UInt64 = 1 << 11

    nonisolated(unsafe) static var current = CPUFeatures()

    static func detect() -> CPUFeatures {
        var f = CPUFeatures()
        let basic = hal_cpuid(1, 0)
        f.globalPages = basic.edx & (1 << 13) != 0
        f.fxsave = basic.edx & (1 << 24) != 0
        if hal_cpuid(0, 0).eax >= 7 {
            let extended = hal_cpuid(7, 0)
            f.smep = extended.ebx & (1 << 7) != 0
            f.smap = extended.ebx & (1 << 20) != 0
            f.umip = extended.ecx & (1 << 2) != 0
        }
        if hal_cpuid(0x8000_0000, 0).eax >= 0x8000_0001 {
            let ext = hal_cpuid(0x8000_0001, 0)
            f.noExecute = ext.edx & (1 << 20) != 0
            f.gigabytePages = ext.edx & (1 << 26) != 0
        }
        return f
    }

    /// Detects the features and turns on every protection the CPU has.
    static func enableProtections() {
        current = detect()
        hal_write_cr0(hal_read_cr0() | cr0WriteProtect)
        if current.noExecute { hal_wrmsr(msrEFER, hal_rdmsr(msrEFER) | eferNoExecute) }
        var cr4 = hal_read_cr4()
        if current.globalPages { cr4 |= cr4GlobalPages }
        if current.smep { cr4 |= cr4SMEP }
        if current.smap { cr4 |= cr4SMAP }
        if current.umip { cr4 |= cr4UMIP }
        hal_write_cr4(cr4)
        // The user-copy and entry paths use stac/clac only when this is set.
        hal_set_smap_enabled(current.smap ? 1 : 0)
    }

    /// What is actually on now, read back from the registers.
    static func reportProtections() {
        let cr0 = hal_read_cr0(), cr4 = hal_read_cr4(), efer = hal_rdmsr(msrEFER)
        func state(_ on: Bool) -> String { on ? "on" : "off" }
        print("CPU protections: NX \(state(efer & eferNoExecute != 0)), WP \(state(cr0 & cr0WriteProtect != 0)), SMEP \(state(cr4 & cr4SMEP != 0)), SMAP \(state(cr4 & cr4SMAP != 0)), UMIP \(state(cr4 & cr4UMIP != 0)), global pages \(state(cr4 & cr4GlobalPages != 0)), 1 GiB pages \(current.gigabytePages ? "available" : "unavailable")")
    }
}
