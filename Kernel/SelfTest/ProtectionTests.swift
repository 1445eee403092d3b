import HAL

// Self-tests of the protections the kernel's own page tables enforce:
// per-section permissions of the image, NX, and the CPU features in force.
enum ProtectionTests {
    /// A read-only byte inside the image's .rodata section.
    private static let rodataByte: StaticString = "read-only"
    /// A `ret` instruction stored in .data, which is mapped no-execute.
    nonisolated(unsafe) private static var dataReturnInstruction: UInt64 = 0xC3

    static func run(_ t: inout TestRunner) {
        t.test("cpu.nx-smep-smap-wp-enabled") {
            let cr0 = hal_read_cr0(), cr4 = hal_read_cr4(), efer = hal_rdmsr(CPUFeatures.msrEFER)
            if efer & CPUFeatures.eferNoExecute == 0 { return "EFER.NXE is off" }
            if cr0 & CPUFeatures.cr0WriteProtect == 0 { return "CR0.WP is off" }
            if cr4 & CPUFeatures.cr4SMEP == 0 { return "CR4.SMEP is off (QEMU runs -cpu max, which has it)" }
            if cr4 & CPUFeatures.cr4SMAP == 0 { return "CR4.SMAP is off (QEMU runs -cpu max, which has it)" }
            return nil
        }
        t.test("paging.write-to-rodata-faults-with-present-write") {
            let address = UnsafeMutableRawPointer(mutating: UnsafeRawPointer(rodataByte.utf8Start))
            return expectPageFault(errorCode: [.present, .write], at: UInt64(UInt(bitPattern: address))) {
                hal_probe_write_byte(address, 0x41)
            }
        }
        t.test("paging.write-to-text-faults-with-present-write") {
            let text = UnsafeMutableRawPointer(bitPattern: UInt(hal_text_start()))!
            return expectPageFault(errorCode: [.present, .write], at: hal_text_start()) {
                hal_probe_write_byte(text, 0x90)
            }
        }
        // The direct-map aliases of .text, .rodata and the exception table
        // are read-only too (KernelMemory.mapDirectMap).
        let aliases: [(String, UInt64)] = [
            ("paging.direct-map-alias-of-text-is-read-only", hal_text_start()),
            ("paging.direct-map-alias-of-rodata-is-read-only", hal_rodata_start()),
            ("paging.direct-map-alias-of-extable-is-read-only", UInt64(UInt(bitPattern: hal_extable_start()))),
        ]
        for (name, imageAddress) in aliases {
            t.test(name) {
                let alias = KernelLayout.directMapBase + (imageAddress - KernelLayout.kernelBase)
                // Writes the byte already there, so a missed fault corrupts nothing.
                let original = UInt8(truncatingIfNeeded: hal_probe_read_byte(UnsafeRawPointer(bitPattern: UInt(imageAddress))))
                return expectPageFault(errorCode: [.present, .write], at: alias) {
                    hal_probe_write_byte(UnsafeMutableRawPointer(bitPattern: UInt(alias))!, original)
                }
            }
        }
        t.test("paging.direct-map-alias-of-data-is-writable") {
            // SAFETY: the alias of this .data variable, written with its own value.
            withUnsafeMutablePointer(to: &dataReturnInstruction) { pointer in
                let alias = KernelLayout.directMapBase + (UInt64(UInt(bitPattern: pointer)) - KernelLayout.kernelBase)
                return hal_probe_write_byte(UnsafeMutableRawPointer(bitPattern: UInt(alias))!, 0xC3) == 0
                    ? nil : "a write to the direct-map alias of .data faulted"
            }
        }
        t.test("exceptions.iretq-fault-has-a-fixup") {
            // A fault at the iretq to ring 3 is charged to the task (SIGSEGV), not a panic.
            var entry = hal_extable_start()!
            while entry < hal_extable_end()! {
                if entry[0] == hal_interrupt_return_iret_address() {
                    return entry[1] == hal_iret_fault_fixup_address() ? nil : "the iretq's fixup is \(hex(entry[1]))"
                }
                entry += 2
            }
            return "no exception-table entry for the iretq at \(hex(hal_interrupt_return_iret_address()))"
        }
        t.test("paging.execute-from-data-faults-with-present-fetch") {
            withUnsafeMutablePointer(to: &dataReturnInstruction) { pointer in
                let address = UInt64(UInt(bitPattern: pointer))
                return expectPageFault(errorCode: [.present, .instructionFetch], at: address) {
                    hal_probe_execute(UnsafeRawPointer(pointer))
                }
            }
        }
        t.test("paging.text-is-executable-and-data-writable") {
            // The probes themselves live in .text; a write to .data must succeed.
            dataReturnInstruction = 0xC3
            return withUnsafeMutablePointer(to: &dataReturnInstruction) { pointer in
                hal_probe_write_byte(UnsafeMutableRawPointer(pointer), 0xC3) == 0 ? nil : "a write to .data faulted"
            }
        }
    }

    /// Runs `access`, which must fault with exactly `errorCode` at `address`
    /// and be recovered by the exception table. Returns a failure or nil.
    static func expectPageFault(errorCode: PageFaultErrorCode, at address: UInt64, _ access: () -> Int64) -> String? {
        ExceptionFixup.lastFault = nil
        let result = access()
        guard result == -1, let fault = ExceptionFixup.lastFault else { return "the access did not fault" }
        if fault.vector != UInt64(ExceptionVector.pageFault.rawValue) { return "vector \(fault.vector), expected #PF" }
        if fault.address != address { return "CR2 \(hex(fault.address)), expected \(hex(address))" }
        if fault.errorCode != errorCode.rawValue {
            return "error code \(hex(fault.errorCode, width: 1)), expected \(hex(errorCode.rawValue, width: 1))"
        }
        return nil
    }
}
