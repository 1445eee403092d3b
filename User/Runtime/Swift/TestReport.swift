// User/Runtime/Swift/TestReport.swift: the PASS/FAIL protocol of the user
// test programs.
//
// Design: each check prints one line, "PASS <check>" or
// "FAIL <check>: <reason>", which the runners (Tests/run-user-native.sh and
// the in-kernel runner) count; the process exits 0 only if every check
// passed. Heap-free, so a test still reports when the heap is what broke.

/// Collects check results for one test program.
public struct TestReport {
    public private(set) var passed = 0
    public private(set) var failed = 0

    public init() {}

    /// Records `condition` under `name`; on failure prints `reason`.
    public mutating func check(_ condition: Bool, _ name: StaticString, _ reason: StaticString = "condition false") {
        if condition {
            pass(name)
        } else {
            beginFailure(name); put(reason); newline()
        }
    }

    /// Records that `actual == expected`; on failure prints both values.
    public mutating func expectEqual(_ actual: Int, _ expected: Int, _ name: StaticString) {
        if actual == expected {
            pass(name)
        } else {
            beginFailure(name)
            put("got "); put(actual); put(", expected "); put(expected); newline()
        }
    }

    /// Records a passed check.
    public mutating func pass(_ name: StaticString) {
        passed += 1
        put("PASS "); put(name); newline()
    }

    /// Records a failed check whose reason includes a value.
    public mutating func fail(_ name: StaticString, _ reason: StaticString, value: Int) {
        beginFailure(name); put(reason); put(" "); put(value); newline()
    }

    /// Starts a FAIL line: the caller writes the reason and the newline.
    public mutating func beginFailure(_ name: StaticString) {
        failed += 1
        put("FAIL "); put(name); put(": ")
    }

    /// Prints the summary and exits: 0 if every check passed, 1 otherwise.
    public func finish(_ program: StaticString) -> Never {
        put(program); put(": "); put(passed); put(" passed, "); put(failed); put(" failed")
        newline()
        sys_exit_group(failed == 0 && passed > 0 ? 0 : 1)
    }
}
