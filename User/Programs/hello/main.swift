// User/Programs/hello/main.swift: the first ring-3 program. Prints a
// greeting and its arguments, then exits 0.
import UserRuntime

@main
struct Hello {
    /// Prints "Hello from ring 3" and one line per argv entry.
    static func main() {
        put("Hello from ring 3"); newline()
        for index in 0..<ProcessInfo.argc {
            put("argv["); put(index); put("] = "); put(cString: ProcessInfo.argument(index)); newline()
        }
    }
}
