// swift-tools-version:6.0
// Host-side build of the kernel's portable code.
//
// `KernelCore` compiles the very same source files as the kernel (the
// Makefile builds them with Embedded Swift for bare metal); only the
// architecture-specific code under Kernel/Arch and the kernel's own glue
// stay out. The tests run it against simulated hardware.
import PackageDescription

let package = Package(
    name: "SwiftKernel",
    targets: [
        .target(
            name: "KernelCore",
            path: "Kernel",
            sources: ["Lib", "Multiboot", "Memory"]
        ),
        .testTarget(
            name: "KernelCoreTests",
            dependencies: ["KernelCore"],
            path: "Tests/KernelCoreTests"
        ),
    ]
)
