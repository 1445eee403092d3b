// The fake CPU of the VM tests: user loads, stores and instruction fetches
// that behave as ring 3 on the kernel does. The access goes through the
// fake MMU (its page walker and TLB model); a #PF becomes a PageFault
// (the error code and CR2, as the kernel's #PF entry builds it) handed to
// `UserAddressSpace.resolve`, and a resolved fault retries the access,
// as `iretq` to the faulting instruction would. An unresolved fault is
// what the kernel would turn into a signal (SIGSEGV or SIGBUS).
//
// Design: the helpers are `mutating` on the space (the fault path changes
// its table) and load the space into CR3 first if another one is loaded,
// so multi-process tests switch "processes" simply by touching another
// space (a CR3 write: the non-global TLB entries go, as on a context
// switch). A space that is already loaded keeps its TLB warm, so a test
// can provoke stale entries on purpose.

import Testing
@testable import KernelCore
import FakeMMU

/// What one user access through the fake CPU did.
enum UserAccess: Equatable, CustomStringConvertible {
    /// It reached this physical address after resolving these faults (in order).
    case success(PhysicalAddress, fixes: [FaultFix])
    /// A fault the space could not resolve: the signal the kernel would send.
    case fault(FaultResolution)
    /// A non-canonical address (#GP, no fault path).
    case generalProtection

    var physical: PhysicalAddress? {
        if case .success(let physical, _) = self { return physical }
        return nil
    }
    var fixes: [FaultFix] {
        if case .success(_, let fixes) = self { return fixes }
        return []
    }
    var failure: FaultResolution? {
        if case .fault(let resolution) = self { return resolution }
        return nil
    }

    var description: String {
        switch self {
        case .success(let physical, let fixes): return "ok(0x\(String(physical.raw, radix: 16)) after \(fixes))"
        case .fault(let resolution): return "unresolved \(resolution)"
        case .generalProtection: return "#GP"
        }
    }
}

extension UserAddressSpace where Memory == SimulatedPhysicalMemory, Frames == TestFrameProvider {
    /// The faults one access may resolve before the helper calls it a loop
    /// (a write to an untouched page needs one, a stale TLB entry one more).
    static var faultRetryLimit: Int { 3 }

    /// Loads this space in `machine`'s MMU unless it is already loaded.
    func load(in machine: PagingMachine) {
        if machine.mmu.cr3 != table.root { machine.mmu.cr3 = table.root }
    }

    /// One `kind` access at `address` from ring 3, faults resolved and retried.
    mutating func userAccess(_ address: UInt64, _ kind: AccessKind, _ machine: PagingMachine,
                             sourceLocation: SourceLocation = #_sourceLocation) -> UserAccess {
        load(in: machine)
        var fixes: [FaultFix] = []
        while true {
            switch machine.mmu.access(VirtualAddress(address), kind, .user) {
            case .success(let physical):
                return .success(physical, fixes: fixes)
            case .generalProtection:
                return .generalProtection
            case .pageFault(let code):
                guard fixes.count < Self.faultRetryLimit else {
                    Issue.record("fault loop at 0x\(String(address, radix: 16)): \(code) after \(fixes)",
                                 sourceLocation: sourceLocation)
                    return .fault(.accessDenied)
                }
                let fault = PageFault(errorCode: code, address: VirtualAddress(address))
                switch resolve(fault, tlb: machine.mmu) {
                case .resolved(let fix): fixes.append(fix)
                case let unresolved: return .fault(unresolved)
                }
            }
        }
    }

    /// The 8 bytes at `address` as user code reads them, or nil if the
    /// fault could not be resolved (the process would get a signal).
    mutating func userLoad(_ machine: PagingMachine, _ address: UInt64) -> UInt64? {
        guard let physical = userAccess(address, .read, machine).physical else { return nil }
        return machine.memory.pointer(to: physical).load(as: UInt64.self)
    }

    /// Stores `value` at `address` as user code; false if the fault could
    /// not be resolved.
    @discardableResult
    mutating func userStore(_ machine: PagingMachine, _ value: UInt64, at address: UInt64) -> Bool {
        guard let physical = userAccess(address, .write, machine).physical else { return false }
        machine.memory.pointer(to: physical).storeBytes(of: value, as: UInt64.self)
        return true
    }

    /// True if user code can fetch an instruction at `address`.
    mutating func userExecute(_ machine: PagingMachine, _ address: UInt64) -> Bool {
        userAccess(address, .execute, machine).physical != nil
    }

    /// Kernel-side 8-byte write (`write(_:at:tlb:)`: faults in with write intent).
    mutating func kernelStore(_ machine: PagingMachine, _ value: UInt64, at address: UInt64) throws(VMError) {
        var copy = value
        try withUnsafeBytes(of: &copy) { (bytes) throws(VMError) in
            try write(bytes, at: VirtualAddress(address), tlb: machine.mmu)
        }
    }

    /// Kernel-side 8-byte read (`read(into:at:tlb:)`).
    mutating func kernelLoad(_ machine: PagingMachine, _ address: UInt64) throws(VMError) -> UInt64 {
        var value: UInt64 = 0
        try withUnsafeMutableBytes(of: &value) { (bytes) throws(VMError) in
            try read(into: bytes, at: VirtualAddress(address), tlb: machine.mmu)
        }
        return value
    }
}

/// Runs the VMInvariantChecker over `spaces` (every live space of the
/// machine) and the machine's user frame count; records a failure naming
/// the rule, the address and the frame.
func checkInvariants(_ machine: PagingMachine, _ context: @autoclosure () -> String = "",
                     sourceLocation: SourceLocation = #_sourceLocation,
                     _ spaces: (inout VMInvariantChecker<SimulatedPhysicalMemory, TestFrameProvider>)
                         throws(VMInvariantViolation) -> Void) {
    var checker = VMInvariantChecker<SimulatedPhysicalMemory, TestFrameProvider>(frames: machine.frames)
    do throws(VMInvariantViolation) {
        try spaces(&checker)
        try checker.finish(userFrames: machine.frames.allocatedFrameCount(of: .user))
    } catch {
        let rule = "\(error.rule)"
        let where_ = "0x\(String(error.address.raw, radix: 16)), frame 0x\(String(error.frame.raw, radix: 16))"
        Issue.record("\(context()): VM invariant \"\(rule)\" broken at \(where_)", sourceLocation: sourceLocation)
    }
}
