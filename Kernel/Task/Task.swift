import HAL

// A task: one user process (one thread) or the kernel's idle loop.
//
// Invariants:
//   - A user task's saved registers live at the top of its own kernel
//     stack (`frame`): the CPU and Boot/syscall.asm push them there on
//     every entry from ring 3, because TSS.RSP0 and syscall_kernel_rsp
//     point at that stack while the task runs.
//   - `space` is nil only for the idle task and for zombies (exit frees
//     the address space at once; the kernel stack goes at reap time,
//     because exit runs on it).
//   - `cr3` is the root of `space` (the kernel's table for idle/zombies).
//   - One CPU, interrupts off in the kernel: no locks.

typealias UserSpace = UserAddressSpace<DirectMapMemory, KernelFrameAllocator>

enum TaskState: Equatable {
    case ready
    case running
    case blocked(BlockReason)
    /// Exited or killed; waits for its parent to collect `waitStatus`.
    case zombie
}

/// What a blocked task waits for. The blocked syscall is re-executed from
/// the start when the task runs again (see Scheduler.block).
enum BlockReason: Equatable {
    case consoleInput
    case childExit
}

final class Task {
    let pid: Int
    var parentPid: Int
    /// The program's file name, for log lines.
    var name: [UInt8]
    var state: TaskState = .ready
    var space: UserSpace?
    var cr3: UInt64
    let kernelStack: KernelStack
    /// Where this task's registers were saved at its last kernel entry.
    var frame: UnsafeMutablePointer<hal_interrupt_frame>
    /// The fxsave area (512 bytes, 16-byte aligned): the task's x87/SSE
    /// state, except while it owns the registers (FPUOwnership.swift),
    /// when the registers are the truth and the area is stale.
    let fpuState: UnsafeMutableRawPointer
    var files: FileTable
    /// The resource limits (getrlimit/setrlimit/prlimit64): inherited at
    /// fork, kept across execve; RLIMIT_AS and RLIMIT_DATA are mirrored in
    /// `space.limits`, which enforces them.
    var limits: ResourceLimits
    /// The Linux wait status, once a zombie.
    var waitStatus: UInt32 = 0
    /// DS, ES, FS, GS while the task is not running (UserSegments.swift).
    var segments = UserSegments.null

    static let fpuStateSize = 512
    static let fpuStateAlignment = 16
    /// fxsave image fields of the power-on state (Intel SDM vol. 1, 10.5.1).
    private static let fpuControlWordOffset = 0, fpuControlWordDefault: UInt16 = 0x037F
    private static let mxcsrOffset = 24, mxcsrDefault: UInt32 = 0x1F80
    /// RFLAGS for a fresh user task: interrupts on (bit 9) and the always-one bit 1.
    static let initialUserFlags: UInt64 = 0x202

    init(pid: Int, parentPid: Int, name: [UInt8], space: consuming UserSpace?, cr3: UInt64,
         kernelStack: KernelStack, files: FileTable, limits: ResourceLimits) {
        self.pid = pid
        self.parentPid = parentPid
        self.name = name
        self.space = space
        self.cr3 = cr3
        self.kernelStack = kernelStack
        self.frame = Task.frameSlot(of: kernelStack)
        self.fpuState = UnsafeMutableRawPointer.allocate(byteCount: Task.fpuStateSize,
                                                         alignment: Task.fpuStateAlignment)
        self.files = files
        self.limits = limits
        resetFPUState()
    }

    deinit {
        FPUOwnership.release(self)  // never save into the freed area
        fpuState.deallocate()
    }

    /// Where a ring-3 entry saves the registers: the top of the kernel stack.
    static func frameSlot(of stack: KernelStack) -> UnsafeMutablePointer<hal_interrupt_frame> {
        let address = stack.top - UInt64(MemoryLayout<hal_interrupt_frame>.stride)
        return UnsafeMutablePointer(bitPattern: UInt(address))!
    }

    /// Sets the registers so the task starts at `entry` in ring 3 with
    /// stack `stackPointer`, every other register zero and null data
    /// segments (Linux start_thread). The caller loads `segments` into the
    /// CPU when the task is the running one (Exec).
    func startInUserMode(entry: UInt64, stackPointer: UInt64) {
        segments = .null
        frame = Task.frameSlot(of: kernelStack)
        var f = hal_interrupt_frame()
        f.rip = entry
        f.cs = UInt64(GDT.userCode)
        f.rflags = Task.initialUserFlags
        f.rsp = stackPointer
        f.ss = UInt64(GDT.userData)
        frame.pointee = f
        resetFPUState()
    }

    /// The FPU/SSE state a new program starts with: all registers zero,
    /// every exception masked (Linux fpstate_init, loaded at execve by
    /// fpu_flush_thread). Written into the area, and the registers released
    /// if they were this task's, so the return to ring 3 loads the area.
    func resetFPUState() {
        fpuState.initializeMemory(as: UInt8.self, repeating: 0, count: Task.fpuStateSize)
        fpuState.storeBytes(of: Task.fpuControlWordDefault, toByteOffset: Task.fpuControlWordOffset, as: UInt16.self)
        fpuState.storeBytes(of: Task.mxcsrDefault, toByteOffset: Task.mxcsrOffset, as: UInt32.self)
        FPUOwnership.release(self)
    }

    /// Runs `body` on the address space (a user task's, never nil). Calling
    /// a method through `space!` works, but reading a stored property of a
    /// ~Copyable value held in a class that way does not compile; this
    /// inout access does.
    func withSpace<R, E: Error>(_ body: (inout UserSpace) throws(E) -> R) throws(E) -> R { try body(&space!) }

    /// The name as text, for log lines.
    var displayName: String { String(decoding: name, as: UTF8.self) }
}
