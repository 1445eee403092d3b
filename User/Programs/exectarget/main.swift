// User/Programs/exectarget/main.swift: the program the execve test runs.
// Expects argv == [any, "alpha", "beta"] and envp == ["EXEC_TEST=1"]; exits
// 7 when both hold (proving execve passed its vectors), otherwise a code
// from 20 up naming the first mismatch. Run by hand, it prints its argv.
import UserRuntime

let successCode = 7
let wrongArgcCode = 20, wrongArgvCode = 21, wrongEnvCode = 22, wrongEntryCode = 23

@main
struct ExecTarget {
    /// Checks argv/envp as described above and exits with the verdict.
    static func main() {
        put("exectarget: argc="); put(ProcessInfo.argc); newline()
        guard ProcessInfo.argc == 3 else { sys_exit_group(wrongArgcCode) }
        guard cStringEquals(ProcessInfo.argument(1), "alpha"),
              cStringEquals(ProcessInfo.argument(2), "beta") else { sys_exit_group(wrongArgvCode) }
        guard ProcessInfo.environmentCount == 1,
              cStringEquals(ProcessInfo.envpBase[0], "EXEC_TEST=1") else { sys_exit_group(wrongEnvCode) }
        guard ProcessInfo.auxv(AuxKey.AT_ENTRY) != nil else { sys_exit_group(wrongEntryCode) }
        sys_exit_group(successCode)
    }
}
