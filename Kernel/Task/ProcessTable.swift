import HAL

// Processes: creating the first one, finding them, and what happens when
// the first one (init, pid 1) ends.
//
// Linux behaviour kept: pids count up from 1; an orphan is re-parented to
// init, which reaps it; when init exits the system goes down (Linux
// panics; this kernel reports init's status and powers off, which is what
// `make run INIT=...` needs).
enum ProcessTable {
    static let initPid = 1
    /// The environment init starts with.
    static let initEnvironment: [[UInt8]] = [Array("PATH=/bin".utf8), Array("HOME=/".utf8)]

    nonisolated(unsafe) static var nextPid = initPid
    /// The boot archive's files; nil when GRUB loaded no archive.
    nonisolated(unsafe) static var fileSystem: ArchiveFileSystem? = nil
    /// Frame usage before init started, to prove that everything came back.
    nonisolated(unsafe) private(set) static var baseline: FrameUsage? = nil

    /// The task with `pid`, zombies included.
    static func find(_ pid: Int) -> Task? {
        for task in Scheduler.tasks where task.pid == pid { return task }
        return nil
    }

    /// Creates init from `arguments` (arguments[0] is the program path).
    /// Returns nil on success, else why it could not start.
    static func startInit(arguments: [[UInt8]]) -> Errno? {
        baseline = FrameUsage.now()
        guard let task = newTask(parentPid: 0, name: arguments[0], files: FileTable.standard()) else { return .ENOMEM }
        if let error = Exec.replaceProgram(of: task, path: arguments[0], arguments: arguments,
                                           environment: initEnvironment) {
            KernelStacks.free(task.kernelStack)
            return error
        }
        Scheduler.tasks.append(task)
        return nil
    }

    /// A task with a fresh pid and kernel stack but no program yet; nil
    /// when out of memory. It is not scheduled until added to Scheduler.tasks.
    static func newTask(parentPid: Int, name: [UInt8], files: FileTable) -> Task? {
        guard let stack = KernelStacks.allocate() else { return nil }
        let task = Task(pid: nextPid, parentPid: parentPid, name: name, space: nil,
                        cr3: KernelMemory.kernelSpace.table.root.raw, kernelStack: stack, files: files)
        nextPid += 1
        return task
    }

    /// Init has exited: report its status, take down every other task,
    /// check that every frame came back, and power off (QEMU's exit status
    /// says whether init succeeded). Runs on the idle task's stack, because
    /// init's own kernel stack is among what gets freed.
    static func initExited() -> Never {
        hal_run_on_stack(Scheduler.idle.kernelStack.top, shutdownOnIdleStack)
    }
}

@_cdecl("shutdown_on_idle_stack")
private func shutdownOnIdleStack() {
    let initTask = ProcessTable.find(ProcessTable.initPid)!
    let status = initTask.waitStatus
    print("init: \(describeWaitStatus(status))")
    Scheduler.current = Scheduler.idle
    hal_write_cr3(KernelMemory.kernelSpace.table.root.raw)
    for task in Scheduler.tasks where task.state != .zombie {
        Lifecycle.terminate(task, waitStatus: WaitStatus.killed(by: .SIGKILL), reportToParent: false)
    }
    while let task = Scheduler.tasks.first { Lifecycle.reap(task) }

    let leaked = FrameUsage.reportAgainst(ProcessTable.baseline)
    let succeeded = status == 0 && !leaked
    QemuExit.exit(succeeded ? .success : .failure)
}

/// "exited with status N" or "killed by signal N (NAME)".
func describeWaitStatus(_ status: UInt32) -> String {
    let signal = status & 0x7F
    if signal == 0 { return "exited with status \((status >> 8) & 0xFF)" }
    return "killed by signal \(signal) (\(signalName(signal)))"
}

func signalName(_ number: UInt32) -> String {
    switch Signal(rawValue: number) {
    case .SIGILL: return "SIGILL"
    case .SIGTRAP: return "SIGTRAP"
    case .SIGBUS: return "SIGBUS"
    case .SIGFPE: return "SIGFPE"
    case .SIGKILL: return "SIGKILL"
    case .SIGSEGV: return "SIGSEGV"
    case nil: return "signal \(number)"
    }
}

/// The frames in use by what processes own, to compare before and after.
struct FrameUsage {
    var freeFrames: Int
    /// The kernel heap's frames and the page tables that map them.
    var heapFrames: Int

    static func now() -> FrameUsage {
        let s = KernelMemory.frames.statistics
        return FrameUsage(freeFrames: s.freeFrames, heapFrames: s.frames(.kernelHeap) + heapTablePages())
    }

    /// 2 MiB
    private static let tableSpan: UInt64 = 1 << 21

    /// The page tables mapping the heap window past the kernel image's own
    /// 2 MiB areas: one per 2 MiB area holding a committed heap page (the
    /// heap commits pages on demand, and a table goes with its last page).
    /// They belong to heap growth: a heap page kept for reuse in a fresh
    /// area (say an array that grew while many regions filled the heap)
    /// keeps its table too, and that is no leak either.
    private static func heapTablePages() -> Int {
        let heap = KernelHeapSetup.heap
        let arenaEnd = heap.base + UInt64(heap.permanentPages) * pageSize
        let first = (arenaEnd + tableSpan - 1) & ~(tableSpan - 1)
        let end = heap.base + UInt64(heap.pageCount) * pageSize
        guard first < end else { return 0 }
        var areas = 0
        var last = UInt64.max
        KernelMemory.kernelSpace.table.forEachLeaf(in: VirtualAddress(first)..<VirtualAddress(end)) { address, _ in
            let area = address.raw / tableSpan
            if area != last {
                areas += 1
                last = area
            }
        }
        return areas
    }

    /// Prints "frames: back to baseline ..." or "frames: LEAK ..." and
    /// returns true on a leak. Kernel-heap growth is not a leak (the heap
    /// keeps some pages for reuse, and their page tables), so it is added
    /// back before comparing.
    static func reportAgainst(_ baseline: FrameUsage?) -> Bool {
        guard let baseline else {
            print("frames: no baseline (init never started)")
            return false
        }
        let current = now()
        let heapGrowth = current.heapFrames - baseline.heapFrames
        let comparable = current.freeFrames + heapGrowth
        let s = KernelMemory.frames.statistics
        let detail = "\(current.freeFrames) free, \(baseline.freeFrames) before init, kernel heap \(heapGrowth >= 0 ? "+" : "")\(heapGrowth); user \(s.frames(.user)), page tables \(s.frames(.pageTable)), kernel stacks \(s.frames(.kernelStack))"
        if comparable == baseline.freeFrames {
            print("frames: back to baseline (\(detail))")
            return false
        }
        print("frames: LEAK of \(baseline.freeFrames - comparable) frames (\(detail))")
        return true
    }
}
