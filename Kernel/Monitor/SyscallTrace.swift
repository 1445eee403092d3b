// `trace on syscalls`: one line per syscall, strace style, printed when the
// syscall has run: "trace: pid 3 (hello) write(0x1, 0x40_3000, 0x12) = 18".
// A syscall that blocks shows "= <blocked>" and appears again when it is
// re-executed (Scheduler.block). Called from syscallDispatch.
enum SyscallTrace {
    nonisolated(unsafe) static var isOn = false

    /// Prints the line for syscall `number` of `task` with `arguments` and `outcome`.
    static func record(_ task: Task, _ number: UInt64, _ arguments: SyscallArguments, _ outcome: SyscallOutcome) {
        let (name, argumentCount) = describe(number)
        let values = [arguments.a0, arguments.a1, arguments.a2, arguments.a3, arguments.a4, arguments.a5]
        var line = "trace: pid \(task.pid) (\(task.displayName)) \(name)("
        for index in 0..<argumentCount { line += (index == 0 ? "" : ", ") + MonitorText.hex(values[index]) }
        line += ") = "
        switch outcome {
        case .value(let value):
            line += Int64(bitPattern: value) >= 0 && value < 1 << 32 ? "\(value)" : MonitorText.hex(value)
        case .error(let errno): line += "-\(errno.rawValue) \(errnoName(errno))"
        case .block: line += "<blocked>"
        case .yield(let value): line += "\(value)"
        case .exited: line += "<exited>"
        case .replaced: line += "0 <new program>"
        }
        print(line)
    }

    /// The name and argument count of syscall `number`. (The `default`s
    /// here and in MonitorText keep new cases of other files' enums from
    /// breaking the monitor's build.)
    static func describe(_ number: UInt64) -> (String, Int) {
        switch SyscallNumber(rawValue: number) {
        case .read: return ("read", 3)
        case .write: return ("write", 3)
        case .open: return ("open", 3)
        case .close: return ("close", 1)
        case .mmap: return ("mmap", 6)
        case .mprotect: return ("mprotect", 3)
        case .munmap: return ("munmap", 2)
        case .brk: return ("brk", 1)
        case .mremap: return ("mremap", 5)
        case .schedYield: return ("sched_yield", 0)
        case .getpid: return ("getpid", 0)
        case .fork: return ("fork", 0)
        case .execve: return ("execve", 3)
        case .exit: return ("exit", 1)
        case .wait4: return ("wait4", 4)
        case .uname: return ("uname", 1)
        case .getppid: return ("getppid", 0)
        case .getdents64: return ("getdents64", 3)
        case .clockGettime: return ("clock_gettime", 2)
        case .exitGroup: return ("exit_group", 1)
        case .openat: return ("openat", 4)
        // Unknown numbers, and syscalls added later until named here.
        default: return ("syscall_\(number)", 6)
        }
    }

    static func errnoName(_ errno: Errno) -> String {
        switch errno {
        case .EPERM: return "EPERM"
        case .ENOENT: return "ENOENT"
        case .ESRCH: return "ESRCH"
        case .EINTR: return "EINTR"
        case .EIO: return "EIO"
        case .E2BIG: return "E2BIG"
        case .ENOEXEC: return "ENOEXEC"
        case .EBADF: return "EBADF"
        case .ECHILD: return "ECHILD"
        case .EAGAIN: return "EAGAIN"
        case .ENOMEM: return "ENOMEM"
        case .EACCES: return "EACCES"
        case .EFAULT: return "EFAULT"
        case .EEXIST: return "EEXIST"
        case .ENOTDIR: return "ENOTDIR"
        case .EISDIR: return "EISDIR"
        case .EINVAL: return "EINVAL"
        case .ENFILE: return "ENFILE"
        case .EMFILE: return "EMFILE"
        case .ENODEV: return "ENODEV"
        case .ENOSPC: return "ENOSPC"
        case .ESPIPE: return "ESPIPE"
        case .EROFS: return "EROFS"
        case .ERANGE: return "ERANGE"
        case .ENOSYS: return "ENOSYS"
        case .ENAMETOOLONG: return "ENAMETOOLONG"
        // Errnos added later print by number until named here.
        default: return "errno"
        }
    }
}
