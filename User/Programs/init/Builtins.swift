// User/Programs/init/Builtins.swift: the commands the shell runs itself
// (help, ls, exit).
//
// Design: each built-in takes the split words (word 0 is its name), prints
// its own errors and never forks. `exit` ends the process; the others
// return to the prompt.
import UserRuntime

/// The built-in commands.
enum Builtin {
    /// Directory `ls` lists when given no argument.
    static let defaultListDirectory: StaticString = "/bin"
    /// Bytes of linux_dirent64 records fetched per getdents64 call.
    static let directoryBufferSize = 1024
    /// Exit codes are 8 bits wide (wait status bits 8..15).
    static let largestExitCode = 255

    /// Runs `words` if its first word names a built-in; returns false when
    /// it does not (the caller then runs a program).
    static func run(_ words: borrowing Words) -> Bool {
        if words.word(0, is: "help") {
            help()
        } else if words.word(0, is: "ls") {
            list(words)
        } else if words.word(0, is: "exit") {
            exit(words)
        } else {
            return false
        }
        return true
    }

    /// help: lists the built-ins and how programs are run.
    static func help() {
        put("Built-in commands:"); newline()
        put("  help              this list"); newline()
        put("  ls [dir]          list the names in dir (default /bin)"); newline()
        put("  exit [code]       leave the shell with code 0..255 (default 0)"); newline()
        put("Anything else runs a program: a word without '/' means /bin/<word>."); newline()
        put("  prog args...      run prog and wait; prints [exit N] or [killed by signal N]"); newline()
        put("  prog args... &    run prog in the background"); newline()
        put("Words are split on spaces and tabs; \"double quotes\" group words."); newline()
    }

    /// ls [dir]: prints every entry of dir except . and .., one per line.
    static func list(_ words: borrowing Words) {
        guard words.count <= 2 else {
            put("usage: ls [dir]"); newline()
            return
        }
        let directory = words.count == 2 ? words[1] : defaultListDirectory.cStringPointer
        let fd = sys_open(directory, OpenFlag.O_RDONLY | OpenFlag.O_DIRECTORY)
        guard fd >= 0 else {
            put("ls: "); put(cString: directory); put(": "); putErrorDescription(fd); newline()
            return
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: directoryBufferSize, alignment: 8)
        let result = forEachDirectoryEntry(fd, buffer: buffer) { entry in
            guard !entry.isDotOrDotDot else { return }
            put(cString: entry.name); newline()
        }
        buffer.deallocate()
        _ = sys_close(fd)
        if result < 0 {
            put("ls: "); put(cString: directory); put(": "); putErrorDescription(result); newline()
        }
    }

    /// exit [code]: exit_group(code), default 0. Rejects a non-numeric or
    /// out-of-range code, or extra words, and returns to the prompt.
    static func exit(_ words: borrowing Words) {
        guard words.count <= 2 else {
            put("usage: exit [code]"); newline()
            return
        }
        var code = 0
        if words.count == 2 {
            guard let parsed = parseDecimal(words[1], limit: largestExitCode) else {
                put("exit: code must be a number from 0 to 255"); newline()
                return
            }
            code = parsed
        }
        sys_exit_group(code)
    }
}

/// Prints a short description of the negative errno `error` ("no such file
/// or directory", or "errno N" for the rest).
func putErrorDescription(_ error: Int) {
    switch -error {
    case Errno.ENOENT: put("no such file or directory")
    case Errno.ENOTDIR: put("not a directory")
    case Errno.EACCES: put("permission denied")
    case Errno.ENOMEM: put("out of memory")
    case Errno.EFAULT: put("bad address")
    case Errno.ENOEXEC: put("not an executable")
    case Errno.EISDIR: put("is a directory")
    case Errno.ENAMETOOLONG: put("name too long")
    default: put("errno "); put(-error)
    }
}
