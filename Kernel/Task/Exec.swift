import HAL

// execve: replace a task's program (Linux fs/exec.c).
//
// The new program is built completely in a fresh address space while the
// old one stays intact, so every failure (missing file, bad ELF, out of
// memory) returns an errno to the still-running old program. Only after
// that point of no return is the old space torn down.
enum Exec {
    /// Loads the program at `path` into `task` with these argv and envp
    /// strings, and sets its registers to start it. Returns nil on
    /// success, else the errno (the task is unchanged then).
    static func replaceProgram(of task: Task, path: [UInt8], strings: borrowing ExecArguments) -> Errno? {
        guard let fileSystem = ProcessTable.fileSystem, let node = fileSystem.lookup(path) else { return .ENOENT }
        guard case .file(let file) = node else { return .EACCES }
        let image: ELF64Image
        do {
            image = try ELF64.parse(file)
        } catch {
            print("exec \(String(decoding: path, as: UTF8.self)): not a valid executable: \(error.description.text)")
            return .ENOEXEC
        }
        var space: UserSpace
        do {
            space = try UserSpace(sharingKernelHalfOf: KernelMemory.kernelSpace.table)
        } catch {
            return .ENOMEM
        }
        let loaded: LoadedProgram
        do {
            loaded = try space.loadProgram(FileCache.file(file), image: image, strings: strings,
                                           random: Entropy.next128(), tlb: KernelMemory.tlb)
        } catch {
            space.tearDown()
            switch error {
            case .outOfMemory: return .ENOMEM
            case .argumentsTooLarge: return .E2BIG
            case .malformed, .segmentNotMappable: return .ENOEXEC
            }
        }

        // Point of no return: switch to the new space, then drop the old one.
        let root = space.table.root.raw
        if Scheduler.current === task { hal_write_cr3(root) }
        task.cr3 = root
        if let old = task.space.take() { old.tearDown() }
        // The limits survive execve (Linux keeps signal->rlim). They apply
        // from here: the image and the stack were loaded without them
        // (Linux checks RLIMIT_AS while mapping the segments, past its
        // point of no return, and kills the process if they do not fit).
        space.limits = MemoryLimits(task.limits)
        task.space = consume space
        task.name = baseName(path)
        task.startInUserMode(entry: loaded.entry, stackPointer: loaded.stackPointer)
        // The old program's DS/ES/FS/GS go with it (start_thread_common).
        if Scheduler.current === task { task.segments.load() }
        // init's first exec runs before it is in the task table (it is
        // checked at its first fork or exit instead).
        if Scheduler.tasks.contains(where: { $0 === task }) { VMCheck.everything() }
        return nil
    }

    /// The last component of `path`.
    static func baseName(_ path: [UInt8]) -> [UInt8] {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return Array(path[(slash + 1)...])
    }
}

/// Randomness for AT_RANDOM: the TSC stirred through SplitMix64. Not
/// cryptographic; enough for stack-protector canaries in user programs.
enum Entropy {
    nonisolated(unsafe) private static var state: UInt64 = 0

    static func next() -> UInt64 {
        state = state &+ hal_rdtsc() &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func next128() -> (UInt64, UInt64) { (next(), next()) }
}
