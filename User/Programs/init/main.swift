// User/Programs/init/main.swift: /bin/init, the interactive serial shell the
// kernel starts as pid 1 when no other init is given.
//
// Design: a read-eval loop over fd 0. Before each prompt, finished
// background children (and, as pid 1, adopted orphans) are reaped with
// wait4(-1, WNOHANG) and reported. A line is split into words
// (WordSplitter.swift); built-ins (Builtins.swift) run in the shell; any
// other word names a program, run by fork + execve with envp ["PATH=/bin"]
// and waited for, unless the line ends with the word "&". End of input acts
// like `exit`. The line, word and path buffers are allocated once at
// start (only `ls` borrows a listing buffer from the heap while it runs).
// stdout is line-buffered by the runtime: the prompt is flushed explicitly
// before blocking in read, and sys_fork / sys_execve flush before they run.
import UserRuntime

/// Longest command line in bytes, without its newline.
let maxLineLength = 255
/// Most words one command line may have.
let maxWords = 32
/// Directory searched for program names without a '/'.
let programDirectory: StaticString = "/bin/"
/// Exit code of a child whose execve failed (as in POSIX shells).
let execFailedExitCode = 127
/// Descriptor the shell reads commands from.
let standardInput = 0

@main
struct Shell {
    /// Prints the banner, then reads and runs command lines until `exit` or
    /// end of input.
    static func main() {
        var reader = LineReader(fd: standardInput, capacity: maxLineLength + 1)
        var words = Words(maxLineLength: maxLineLength, maxCount: maxWords)
        var programPath = CStringBuilder(capacity: programDirectory.utf8CodeUnitCount + maxLineLength)

        put("SwiftKernel shell, pid "); put(sys_getpid()); put(". Type 'help' for commands."); newline()
        while true {
            reapFinishedChildren()
            put("$ ")
            flushOutput()
            switch reader.nextLine() {
            case .line(let line):
                run(line, &words, &programPath)
            case .tooLong:
                put("line too long (at most "); put(maxLineLength); put(" characters)"); newline()
            case .endOfInput:
                newline()
                sys_exit_group(0)
            case .readError(let error):
                newline()
                put("init: read from console failed (errno "); put(-error); put(")"); newline()
                sys_exit_group(1)
            }
        }
    }

    /// Splits one command line and runs it as a built-in or a program.
    static func run(_ line: UnsafeBufferPointer<UInt8>, _ words: inout Words,
                    _ programPath: inout CStringBuilder) {
        do {
            try words.split(line)
        } catch {
            switch error {
            case .unterminatedQuote: put("syntax error: unterminated quote")
            case .tooManyWords: put("too many words (at most "); put(maxWords); put(")")
            }
            newline()
            return
        }
        var background = false
        if words.count > 0 && words.word(words.count - 1, is: "&") {
            background = true
            words.removeLast()
            if words.count == 0 {
                put("syntax error: '&' needs a command before it"); newline()
                return
            }
        }
        guard words.count > 0 else { return }
        if Builtin.run(words) { return }
        launch(words, path: &programPath, background: background)
    }

    /// Forks a child that execs the program named by words[0] with the words
    /// as argv; waits for it and prints its status, or, for `background`,
    /// prints its pid and returns at once.
    static func launch(_ words: borrowing Words, path: inout CStringBuilder, background: Bool) {
        let name = words[0]
        path.clear()
        if !containsSlash(name) { path.append(programDirectory) }
        path.append(cString: name)

        let child = sys_fork()
        if child == 0 { execProgram(path.cString, words.vector) }
        guard child > 0 else {
            put("fork failed (errno "); put(-child); put(")"); newline()
            return
        }
        if background {
            put("[pid "); put(child); put("] started in background"); newline()
            return
        }
        var status: Int32 = 0
        var reaped = sys_wait4(child, &status)
        while reaped == -Errno.EINTR { reaped = sys_wait4(child, &status) }
        guard reaped == child else {
            put("wait4 failed (errno "); put(-reaped); put(")"); newline()
            return
        }
        put("["); putStatus(WaitStatus(status)); put("]"); newline()
    }

    /// In the forked child: execve(path, argv, ["PATH=/bin"]). On failure
    /// prints why (naming argv[0]) and exits 127. Never returns.
    static func execProgram(_ path: UnsafePointer<CChar>,
                            _ argv: UnsafePointer<UnsafePointer<CChar>?>) -> Never {
        let pathVariable: StaticString = "PATH=/bin"
        var environment: (UnsafePointer<CChar>?, UnsafePointer<CChar>?) = (pathVariable.cStringPointer, nil)
        let result = withUnsafePointer(to: &environment) { pair in
            pair.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: 2) { envp in
                sys_execve(path, argv, envp)
            }
        }
        put(cString: argv[0])
        if result == -Errno.ENOENT {
            put(": command not found")
        } else {
            put(": exec failed (errno "); put(-result); put(")")
        }
        newline()
        sys_exit_group(execFailedExitCode)
    }

    /// Reaps every child that has already finished (background jobs and
    /// adopted orphans) without blocking, printing one line for each.
    static func reapFinishedChildren() {
        while true {
            var status: Int32 = 0
            let pid = sys_wait4(-1, &status, WaitOption.WNOHANG)
            if pid == -Errno.EINTR { continue }
            guard pid > 0 else { return }    // 0: children still running; <0: none left
            put("[pid "); put(pid); put(" done: "); putStatus(WaitStatus(status)); put("]"); newline()
        }
    }

    /// Prints "exit N" or "killed by signal N (NAME)" for a wait status.
    static func putStatus(_ status: WaitStatus) {
        if status.exited {
            put("exit "); put(Int(status.exitCode))
            return
        }
        let signal = status.terminatingSignal
        put("killed by signal "); put(Int(signal))
        if let name = Signal.name(of: signal) {
            put(" ("); put(name); put(")")
        }
    }

    /// True when the C string contains '/'.
    static func containsSlash(_ text: UnsafePointer<CChar>) -> Bool {
        var index = 0
        while text[index] != 0 {
            if text[index] == CChar(UInt8(ascii: "/")) { return true }
            index += 1
        }
        return false
    }
}
