// The world the host fuzzer drives: a few processes' UserAddressSpaces on
// one simulated machine (Tests/FakeMMU), each with a reference model, and
// operations that run on both (`make fuzz-host`, Tests/Fuzz/README.md).
//
// The model, per process: page number -> (protection, private word or a
// page of a shared object, heap or not); shared objects separately (object
// -> page index -> word), so a store through one mapping shows in all.
// Model rules, Linux's:
//   - an untouched private page reads as zero; fork copies private words
//     by value and shared pages by reference;
//   - MAP_FIXED replaces, munmap punches holes, mprotect needs every page
//     mapped (else ENOMEM, nothing changed);
//   - brk grows only into free space keeping one free page before the next
//     region, shrinking unmaps what lies above the new break;
//   - a private page made PROT_NONE holds either its word or zero when it
//     becomes accessible again ("uncertain"): the kernel discards it today
//     and will keep it once PROT_NONE keeps its pages (issue [5]); the
//     fuzzer accepts both, so neither change breaks it.
// After every operation: the acting process's regions against its model
// (coverage, protection, heap kind), every page's first word as the leaf
// or the shared object holds it (read without faulting), the
// VMInvariantChecker over every live space and the user frame count, and
// no stale TLB entry used. At the end every space is torn down and the
// frames must be back at the baseline.
// A failure is a FuzzFailure naming the operation log; libFuzzer's entry
// turns it into a crash (so the input is saved), the seeded runner prints it.

import KernelCore
import FakeMMU

public typealias FuzzSpace = UserAddressSpace<SimulatedPhysicalMemory, TestFrameProvider>
public typealias FuzzTable = PageTable<SimulatedPhysicalMemory, TestFrameProvider>

public struct FuzzFailure: Error, CustomStringConvertible {
    public let description: String
}

/// Simulated RAM, frames over it and an MMU, reused across inputs (each
/// input must give every frame back, which the next one relies on).
public final class FuzzMachine {
    static let ramBytes: UInt64 = 32 << 20
    static let firstFrame: UInt64 = 1 << 20
    static let frameCount = 7000
    public let memory: SimulatedPhysicalMemory
    public let frames: TestFrameProvider
    public let mmu: FakeMMU

    public init() {
        memory = SimulatedPhysicalMemory(size: Self.ramBytes)
        frames = TestFrameProvider(memory: memory, firstFrame: PhysicalAddress(Self.firstFrame), frameCount: Self.frameCount)
        mmu = FakeMMU(memory: memory)
    }
}

/// One process: its space (nil once torn down) and its model.
final class FuzzProcess {
    struct Page {
        var protection: VMProtection
        /// The private word at the page's start.
        var value: UInt64 = 0
        /// Made PROT_NONE since `value` was known: `value` or 0.
        var uncertain = false
        /// A shared object's page instead: (object, page index).
        var shared: (object: Int, index: UInt64)? = nil
        var heap = false
    }
    var space: FuzzSpace?
    var model: [UInt64: Page]
    init(_ space: consuming FuzzSpace, model: [UInt64: Page]) {
        self.space = consume space
        self.model = model
    }
    /// Stored properties of a ~Copyable value in a class are read through
    /// an inout access (`space!.x` does not compile; Task.withSpace likewise).
    func withSpace<R, E: Error>(_ body: (inout FuzzSpace) throws(E) -> R) throws(E) -> R { try body(&space!) }
}

final class FuzzWorld {
    /// The window operations aim at: 64 pages straddling a 2 MiB boundary,
    /// so page tables come and go; the break starts inside it.
    static let windowPages: UInt64 = 64
    static let firstPage: UInt64 = (0x4020_0000 - 32 * pageSize) / pageSize
    static let breakStartPage: UInt64 = firstPage + 40
    static let maximumProcesses = 4
    static let kernelHalf = 255..<512

    let machine: FuzzMachine
    var kernelStorage: FuzzTable?
    var kernel: FuzzTable { _read { yield kernelStorage! } }
    var processes: [FuzzProcess] = []
    var objects: [[UInt64: UInt64]] = []
    let baseline: Int
    var log: [String] = []

    init(machine: FuzzMachine) throws(FuzzFailure) {
        self.machine = machine
        baseline = machine.frames.allocatedFrameCount
        do {
            let kernel = try FuzzTable(memory: machine.memory, frames: machine.frames, pinnedSlots: Self.kernelHalf)
            var space = try FuzzSpace(sharingKernelHalfOf: kernel)
            space.setInitialBreak(VirtualAddress(Self.address(Self.breakStartPage)))
            kernelStorage = consume kernel
            processes = [FuzzProcess(space, model: [:])]
        } catch {
            throw FuzzFailure(description: "setup: \(error)")
        }
    }

    static func address(_ page: UInt64) -> UInt64 { page * pageSize }
    static func range(_ pages: Range<UInt64>) -> Range<VirtualAddress> {
        VirtualAddress(address(pages.lowerBound))..<VirtualAddress(address(pages.upperBound))
    }

    func fail(_ what: String) -> FuzzFailure {
        FuzzFailure(description: "\(what)\n  after: \(log.joined(separator: "; "))")
    }

    // MARK: the fake CPU (as Tests/KernelCoreTests/Support/UserCPU.swift)

    enum Access: Equatable { case physical(PhysicalAddress), fault(FaultResolution), loop }

    /// One ring-3 access: loads the space, resolves faults and retries.
    func userAccess(_ process: FuzzProcess, _ address: UInt64, _ kind: AccessKind) -> Access {
        let root = process.withSpace { $0.table.root }
        if machine.mmu.cr3 != root { machine.mmu.cr3 = root }
        for _ in 0..<3 {
            switch machine.mmu.access(VirtualAddress(address), kind, .user) {
            case .success(let physical): return .physical(physical)
            case .generalProtection: return .fault(.notMapped)
            case .pageFault(let code):
                let resolution = process.space!.resolve(PageFault(errorCode: code, address: VirtualAddress(address)),
                                                        tlb: machine.mmu)
                guard resolution.isResolved else { return .fault(resolution) }
            }
        }
        return .loop
    }

    // MARK: operations

    func mapPrivate(_ p: Int, _ pages: Range<UInt64>, _ protection: VMProtection) throws(FuzzFailure) {
        log.append("p\(p).mapPrivate(\(pages), \(protection.rawValue))")
        do throws(VMError) {
            _ = try processes[p].space!.map(MapRequest(address: VirtualAddress(Self.address(pages.lowerBound)),
                                                       length: Self.address(UInt64(pages.count)),
                                                       protection: protection, fixed: true), tlb: machine.mmu)
        } catch {
            throw fail("MAP_FIXED failed: \(error)")
        }
        for page in pages { processes[p].model[page] = FuzzProcess.Page(protection: protection) }
    }

    func mapShared(_ p: Int, _ pages: Range<UInt64>, _ protection: VMProtection) throws(FuzzFailure) {
        log.append("p\(p).mapShared(\(pages), \(protection.rawValue))")
        let object = objects.count
        objects.append([:])
        do throws(VMError) {
            _ = try processes[p].space!.map(
                MapRequest(address: VirtualAddress(Self.address(pages.lowerBound)), length: Self.address(UInt64(pages.count)),
                           protection: protection, fixed: true,
                           backing: .shared(SharedMemory(pageCount: UInt64(pages.count), frames: machine.frames)),
                           pageOffset: 0),
                tlb: machine.mmu)
        } catch {
            throw fail("MAP_SHARED|MAP_FIXED failed: \(error)")
        }
        for page in pages {
            processes[p].model[page] = FuzzProcess.Page(protection: protection, shared: (object, page - pages.lowerBound))
        }
    }

    /// mmap with a hint: the hint if free, else somewhere free.
    func mapHinted(_ p: Int, _ pages: Range<UInt64>, _ protection: VMProtection) throws(FuzzFailure) {
        log.append("p\(p).mapHinted(\(pages), \(protection.rawValue))")
        let start: VirtualAddress
        do throws(VMError) {
            start = try processes[p].space!.map(MapRequest(address: VirtualAddress(Self.address(pages.lowerBound)),
                                                           length: Self.address(UInt64(pages.count)),
                                                           protection: protection), tlb: machine.mmu)
        } catch {
            throw fail("hinted mmap failed: \(error)")
        }
        let first = start.raw / pageSize, placed = first..<first + UInt64(pages.count)
        let hintFree = pages.allSatisfy { processes[p].model[$0] == nil }
        guard (first == pages.lowerBound) == hintFree else { throw fail("hint used: \(first == pages.lowerBound), free: \(hintFree)") }
        guard placed.allSatisfy({ processes[p].model[$0] == nil }) else { throw fail("hinted mmap over a mapping at \(placed)") }
        for page in placed { processes[p].model[page] = FuzzProcess.Page(protection: protection) }
    }

    func unmap(_ p: Int, _ pages: Range<UInt64>) throws(FuzzFailure) {
        log.append("p\(p).unmap(\(pages))")
        do throws(VMError) {
            try processes[p].space!.unmap(Self.range(pages), tlb: machine.mmu)
        } catch {
            throw fail("munmap failed: \(error)")
        }
        for page in pages { processes[p].model[page] = nil }
    }

    func protect(_ p: Int, _ pages: Range<UInt64>, _ protection: VMProtection) throws(FuzzFailure) {
        log.append("p\(p).protect(\(pages), \(protection.rawValue))")
        let covered = pages.allSatisfy { processes[p].model[$0] != nil }
        do throws(VMError) {
            try processes[p].space!.protect(Self.range(pages), to: protection, tlb: machine.mmu)
        } catch {
            guard error == .notMapped && !covered else { throw fail("mprotect: \(error), covered \(covered)") }
            return
        }
        guard covered else { throw fail("mprotect of a partly unmapped range succeeded") }
        for page in pages {
            processes[p].model[page]!.protection = protection
            if !protection.allowsAccess && processes[p].model[page]!.shared == nil { processes[p].model[page]!.uncertain = true }
        }
    }

    func setBreak(_ p: Int, _ requested: UInt64) throws(FuzzFailure) {
        log.append("p\(p).brk(0x\(String(requested, radix: 16)))")
        let process = processes[p]
        let (old, start) = process.withSpace { ($0.breakEnd.raw, $0.breakStart.raw) }
        let got = process.space!.setBreak(VirtualAddress(requested), tlb: machine.mmu).raw
        let oldTop = (old + pageSize - 1) / pageSize, newTop = (requested + pageSize - 1) / pageSize
        var expected = old
        if requested >= start && requested <= FuzzSpace.userEnd.raw {
            if newTop > oldTop {
                if (oldTop..<newTop + 1).allSatisfy({ process.model[$0] == nil }) { expected = requested }
            } else {
                expected = requested
            }
        }
        guard got == expected else { throw fail("brk gave 0x\(String(got, radix: 16)), expected 0x\(String(expected, radix: 16))") }
        guard got == requested else { return }
        if newTop > oldTop {
            for page in oldTop..<newTop { process.model[page] = FuzzProcess.Page(protection: .readWrite, heap: true) }
        } else {
            for page in newTop..<max(newTop, oldTop) { process.model[page] = nil }
        }
    }

    /// A user store into the page's first word.
    func userWrite(_ p: Int, _ page: UInt64, _ value: UInt64) throws(FuzzFailure) {
        log.append("p\(p).write(\(page), \(value))")
        let access = userAccess(processes[p], Self.address(page), .write)
        let expected = processes[p].model[page]
        let allowed = expected?.protection.effective.contains(.write) == true
        switch access {
        case .physical(let physical):
            guard allowed else { throw fail("a store page \(page) succeeded") }
            machine.memory.pointer(to: physical).storeBytes(of: value, as: UInt64.self)
            store(value, p, page)
        case .fault(let resolution):
            guard !allowed else { throw fail("a store to page \(page) refused: \(resolution)") }
            guard resolution == (expected == nil ? .notMapped : .accessDenied) else { throw fail("store signal \(resolution)") }
        case .loop:
            throw fail("fault loop on a store to page \(page)")
        }
    }

    /// A kernel-side write (FOLL_FORCE-like) into a private page, or a
    /// writable shared one.
    func kernelWrite(_ p: Int, _ page: UInt64, _ value: UInt64) throws(FuzzFailure) {
        log.append("p\(p).kernelWrite(\(page), \(value))")
        let expected = processes[p].model[page]
        if let expected, expected.shared != nil, !expected.protection.contains(.write) { return }
        var copy = value
        let result: VMError? = withUnsafeBytes(of: &copy) { bytes -> VMError? in
            do throws(VMError) {
                try processes[p].space!.write(bytes, at: VirtualAddress(Self.address(page)), tlb: machine.mmu)
                return nil
            } catch {
                return error
            }
        }
        let allowed = expected?.protection.allowsAccess == true
        if let result {
            guard !allowed && result == .notMapped else { throw fail("kernel write to page \(page): \(result)") }
        } else {
            guard allowed else { throw fail("kernel write to inaccessible page \(page) succeeded") }
            store(value, p, page)
        }
    }

    /// A user load, or an instruction fetch, at the page's start.
    func userRead(_ p: Int, _ page: UInt64, execute: Bool) throws(FuzzFailure) {
        log.append("p\(p).\(execute ? "execute" : "read")(\(page))")
        let expected = processes[p].model[page]
        let right: VMProtection = execute ? .execute : .read
        let allowed = expected?.protection.effective.contains(right) == true
        switch userAccess(processes[p], Self.address(page), execute ? .execute : .read) {
        case .physical(let physical):
            guard allowed, let expected else { throw fail("a \(right.rawValue) access to page \(page) succeeded") }
            let word = machine.memory.pointer(to: physical).load(as: UInt64.self)
            try observe(word, p, page, expected)
        case .fault(let resolution):
            guard !allowed else { throw fail("access \(right.rawValue) to page \(page) refused: \(resolution)") }
            guard resolution == (expected == nil ? .notMapped : .accessDenied) else { throw fail("signal \(resolution)") }
        case .loop:
            throw fail("fault loop at page \(page)")
        }
    }

    func fork(_ p: Int) throws(FuzzFailure) {
        guard processes.count < Self.maximumProcesses else { return }
        log.append("p\(p).fork")
        let child: FuzzSpace
        do throws(VMError) {
            child = try processes[p].space!.fork(kernel: kernel, tlb: machine.mmu)
        } catch {
            throw fail("fork failed: \(error)")
        }
        let parentBreak = processes[p].withSpace { ($0.breakStart, $0.breakEnd) }
        guard child.breakStart == parentBreak.0, child.breakEnd == parentBreak.1 else {
            throw fail("fork did not copy the break")
        }
        processes.append(FuzzProcess(child, model: processes[p].model))
    }

    func exit(_ p: Int) {
        log.append("p\(p).exit")
        let process = processes.remove(at: p)
        machine.mmu.cr3 = kernel.root
        process.space.take()!.tearDown()
    }

    private func store(_ value: UInt64, _ p: Int, _ page: UInt64) {
        if let shared = processes[p].model[page]!.shared {
            objects[shared.object][shared.index] = value
        } else {
            processes[p].model[page]!.value = value
            processes[p].model[page]!.uncertain = false
        }
    }

    private func value(of page: FuzzProcess.Page) -> UInt64 {
        if let shared = page.shared { return objects[shared.object][shared.index] ?? 0 }
        return page.value
    }

    /// Compares a word read with the model; an uncertain word may be 0 and becomes known.
    private func observe(_ word: UInt64, _ p: Int, _ page: UInt64, _ expected: FuzzProcess.Page) throws(FuzzFailure) {
        let want = value(of: expected)
        if word == want { return }
        guard expected.uncertain && word == 0 else {
            throw fail("page \(page) holds \(word), the model \(want)\(expected.uncertain ? " or 0" : "")")
        }
        processes[p].model[page]!.value = 0
        processes[p].model[page]!.uncertain = false
    }

    // MARK: checks

    /// Every check of the header, after each operation on process `p`.
    func check(_ p: Int) throws(FuzzFailure) {
        if p < processes.count { try checkModel(p) }
        var checker = VMInvariantChecker<SimulatedPhysicalMemory, TestFrameProvider>(frames: machine.frames)
        do throws(VMInvariantViolation) {
            for process in processes { try checker.add(process.space!) }
            try checker.finish(userFrames: machine.frames.allocatedFrameCount(of: .user))
        } catch {
            throw fail("VM invariant \"\(error.rule)\" broken at 0x\(String(error.address.raw, radix: 16)), frame 0x\(String(error.frame.raw, radix: 16))")
        }
        guard machine.mmu.staleReports.isEmpty else { throw fail("stale TLB entry used: \(machine.mmu.staleReports)") }
    }

    private func checkModel(_ p: Int) throws(FuzzFailure) {
        let process = processes[p]
        var covered: [UInt64: (VMProtection, RegionKind)] = [:]
        for region in process.withSpace({ $0.regions }) {
            for page in region.start.raw / pageSize..<region.end.raw / pageSize { covered[page] = (region.protection, region.kind) }
        }
        guard Set(covered.keys) == Set(process.model.keys) else {
            throw fail("p\(p): regions cover \(covered.count) pages, the model \(process.model.count)")
        }
        for (page, expected) in process.model {
            let (protection, kind) = covered[page]!
            guard protection == expected.protection, (kind == .heap) == expected.heap else {
                throw fail("p\(p) page \(page): region \(protection.rawValue) \(kind), model \(expected.protection.rawValue) heap \(expected.heap)")
            }
            guard expected.protection.allowsAccess, let word = peek(process, page) else { continue }
            let want = value(of: expected)
            guard word == want || (expected.uncertain && word == 0) else {
                throw fail("p\(p) page \(page) holds \(word), the model \(want)")
            }
        }
    }

    /// The page's first word from its leaf or shared object, without faulting.
    private func peek(_ process: FuzzProcess, _ page: UInt64) -> UInt64? {
        let address = VirtualAddress(Self.address(page))
        guard let region = process.withSpace({ $0.region(containing: address) }) else { return nil }
        if let physical = process.withSpace({ $0.table.translate(address) }) {
            return machine.memory.pointer(to: physical).load(as: UInt64.self)
        }
        if case .shared(let object) = region.backing, let frame = object.pages[region.pageIndex(of: address)] {
            return machine.memory.pointer(to: frame).load(as: UInt64.self)
        }
        return nil   // not faulted in: a private page reads as zero or its kept word; checked when read
    }

    /// Tears every space and the kernel table down; every frame must be back.
    func finish() throws(FuzzFailure) {
        while !processes.isEmpty { exit(processes.count - 1) }
        if let kernel = kernelStorage.take() { kernel.tearDown { machine.frames.releaseFrame($0) } }
        guard machine.frames.allocatedFrameCount == baseline else {
            throw fail("\(machine.frames.allocatedFrameCount - baseline) frames leaked")
        }
        guard machine.mmu.staleReports.isEmpty else { throw fail("stale TLB entry used: \(machine.mmu.staleReports)") }
    }
}
