// swift-tools-version:6.0
// Host-side build of the kernel's portable code.
//
// `KernelCore` compiles the very same source files as the kernel (the
// Makefile builds them with Embedded Swift for bare metal): the portable
// directories, plus the x86-64 page-table format, which is pure Swift and
// which the fake MMU walks. Hardware glue (Kernel/Arch/x86_64 outside
// Paging) and the kernel's own init code stay out.
import PackageDescription

let package = Package(
    name: "SwiftKernel",
    targets: [
        .target(
            name: "KernelCore",
            path: "Kernel",
            sources: ["Lib", "Multiboot", "Memory", "Loader", "FileSystem", "VM", "Arch/x86_64/Paging"]
        ),
        // Simulated physical memory and an x86-64 MMU with a TLB model.
        .target(
            name: "FakeMMU",
            dependencies: ["KernelCore"],
            path: "Tests/FakeMMU"
        ),
        .testTarget(
            name: "KernelCoreTests",
            dependencies: ["KernelCore", "FakeMMU", "VMFuzzing"],
            path: "Tests/KernelCoreTests"
        ),
        // The host fuzzer (`make fuzz-host`): the VM on the fake MMU against
        // a model, and the ELF and ustar parsers (Tests/Fuzz/README.md).
        .target(
            name: "VMFuzzing",
            dependencies: ["KernelCore", "FakeMMU"],
            path: "Tests/Fuzz/VMFuzzing"
        ),
        .executableTarget(
            name: "VMFuzz",
            dependencies: ["VMFuzzing"],
            path: "Tests/Fuzz/VMFuzz"
        ),
        // `make bench-host`: ns per operation of the memory code on a 1 GiB machine.
        .executableTarget(
            name: "MemoryBenchmark",
            dependencies: ["KernelCore", "FakeMMU"],
            path: "Tests/Benchmarks/MemoryBenchmark"
        ),
    ]
)
