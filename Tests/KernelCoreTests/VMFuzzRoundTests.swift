// The host fuzzer's fixed round in `swift test` (make test): seeded random
// inputs through the same targets `make fuzz-host` gives libFuzzer
// (Tests/Fuzz/VMFuzzing): VM operation sequences on the fake MMU against
// the model, with every check after each operation, and the ELF and ustar
// parsers. A few seconds; long runs are `make fuzz-host`.

import Testing
import VMFuzzing

@Suite struct VMFuzzRoundTests {
    @Test func fixedSeededRoundPasses() {
        let result = SeededFuzzRunner.run(seed: 1, count: 150)
        #expect(result == nil, "input \(result?.input ?? -1): \(result?.failure.description ?? "")")
        #expect(FuzzTargets.operationsRun > 1000, "the round ran VM operations")
    }
}
