// `make fuzz-host`: the host fuzzer's entry points (Tests/Fuzz/README.md).
//
// Built with libFuzzer (`swift build --sanitize=fuzzer`, compilation
// condition LIBFUZZER): LLVMFuzzerTestOneInput runs one input through
// FuzzTargets and turns a failed check into a crash, which libFuzzer
// reports and saves as a reproducer (crash-<sha1>; replay it by passing
// the file to the same binary).
// Built without (plain `swift build`): a seeded property loop,
// `VMFuzz [seed] [count]`, the fallback the issue allows.

import VMFuzzing
#if canImport(Glibc)
import Glibc
#endif

#if LIBFUZZER
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    if let failure = FuzzTargets.run(bytes) { fatalError("VMFuzz: \(failure)") }
    return 0
}
#else
@main
struct VMFuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        let seed = arguments.count > 1 ? UInt64(arguments[1]) ?? 1 : 1
        let count = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000
        if let (input, failure) = SeededFuzzRunner.run(seed: seed, count: count) {
            print("VMFuzz seed \(seed): input \(input) failed: \(failure)")
            exit(1)
        }
        print("VMFuzz seed \(seed): \(count) inputs, \(FuzzTargets.operationsRun) VM operations, all checks passed")
    }
}
#endif
