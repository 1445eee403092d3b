import HAL

// In-kernel tests, run when the command line has `test=<mode>`.
//
// Output protocol, read by qemu/run-qemu-tests.sh:
//   TEST PASS <name>
//   TEST FAIL <name>: <what went wrong>
//   SELFTEST SUMMARY passed=<n> failed=<n>
// then QEMU exits with QemuExit.success or .failure. The panic modes end in
// a panic on purpose; the runner checks the panic text instead.
enum SelfTest {
    static func run(mode: String, bootInfo: Multiboot2Info, commandLine: KernelCommandLine) -> Never {
        print("Self-test mode: \(mode)")
        switch mode {
        case "panic-ud2":
            print("Self-test: executing ud2, expect a #UD panic")
            hal_ud2()
            kernelPanic("self-test: ud2 did not fault")
        case "panic-pagefault":
            print("Self-test: writing to an unmapped address, expect a #PF panic")
            let unmapped = UnsafeMutablePointer<UInt64>(bitPattern: UInt(SelfTestSupport.unmappedAddress))!
            unmapped.pointee = 0x5EED
            kernelPanic("self-test: the write to an unmapped address did not fault")
        default:
            var runner = TestRunner()
            BootTests.run(&runner, bootInfo: bootInfo, commandLine: commandLine)
            ProtectionTests.run(&runner)
            SecurityBaselineTests.run(&runner)
            MemoryTests.run(&runner)
            runner.finish()
        }
    }
}

/// Counts and reports test results.
struct TestRunner {
    private(set) var passed = 0
    private(set) var failed = 0

    /// Records one test: passes when `failure` is nil.
    mutating func record(_ name: String, failure: String?) {
        if let failure {
            failed += 1
            print("TEST FAIL \(name): \(failure)")
        } else {
            passed += 1
            print("TEST PASS \(name)")
        }
    }

    /// Runs `body`, which returns nil on success or a description of the failure.
    mutating func test(_ name: String, _ body: () -> String?) {
        record(name, failure: body())
    }

    func finish() -> Never {
        print("SELFTEST SUMMARY passed=\(passed) failed=\(failed)")
        QemuExit.exit(failed == 0 ? .success : .failure)
    }
}

enum SelfTestSupport {
    /// Canonical, in the kernel half, and never mapped: above the boot direct
    /// map's 4 GiB but inside PML4 slot 256.
    static let unmappedAddress: UInt64 = KernelLayout.directMapBase + (64 << 30) + 0x123
}
