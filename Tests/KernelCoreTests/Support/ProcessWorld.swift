// A few processes on one fake machine, with a reference model, for the
// randomized and exhaustive multi-process VM tests
// (UserAddressSpaceProcessModelTests).
//
// The model, per process: page number -> (protection, private word or a
// page of a shared object). Shared objects are modelled separately (object
// number -> page index -> word), so a write through one mapping shows in
// every mapping of the object. Operations run on the real spaces through
// the fake CPU (user accesses load the acting process's table into CR3)
// and on the model; `check` compares them without touching anything (it
// reads leaves and shared objects' frames directly, so it does not fault
// pages in), and runs the VMInvariantChecker over every live space.
//
// Model rules (Linux's):
// - an untouched or discarded private page reads as zero, or as its file
//   page's word for a private file mapping (`initial`);
// - a shared file page always reads as the file's word: it can never be
//   made writable (may-write is cleared: mmap and mprotect with write are
//   EACCES, and the kernel cannot force a write either);
// - fork copies the model (private words by value, shared pages by reference);
// - mprotect(PROT_NONE) keeps every page (private ones parked in their
//   leaves, issue [5]); `check` reads them there too.

import Testing
@testable import KernelCore
import FakeMMU

final class ProcessWorld {
    struct Page: Equatable {
        var protection: VMProtection
        /// The private word at the page's start (0 until written).
        var value: UInt64 = 0
        /// A shared object's page instead: (object, page index).
        var shared: (object: Int, index: UInt64)? = nil
        /// What the page reads as when untouched or discarded: 0, or the
        /// file's word for a file mapping.
        var initial: UInt64 = 0
        /// A page of a shared file mapping: always `value`, never writable.
        var sharedFile = false

        static func == (a: Page, b: Page) -> Bool {
            a.protection == b.protection && a.value == b.value
                && a.shared?.object == b.shared?.object && a.shared?.index == b.shared?.index
                && a.initial == b.initial && a.sharedFile == b.sharedFile
        }
    }

    let machine: PagingMachine
    let kernel: SpaceBoxKernel
    var processes: [SpaceBox] = []
    var models: [[UInt64: Page]] = []
    var objects: [[UInt64: UInt64]] = []
    let baseline: Int
    var log: [String] = []
    /// Two files the processes may map (made once: the exhaustive test
    /// builds thousands of worlds), each world with its own page caches.
    static let filePages: UInt64 = 16
    nonisolated(unsafe) static let fileBytes = [TestFile(patternedBytes: Int(filePages * pageSize)),
                     TestFile((0..<Int(filePages * pageSize)).map { UInt8(truncatingIfNeeded: $0 * 13 + 5) })]
    let files: [FileContents]

    init(machine: PagingMachine, kernel: SpaceBoxKernel) throws {
        self.machine = machine
        self.kernel = kernel
        files = Self.fileBytes.map { FileContents(bytes: $0.bytes, frames: machine.frames) }
        baseline = machine.frames.allocatedFrameCount
        processes = [SpaceBox(try TestSpace(sharingKernelHalfOf: kernel.table))]
        models = [[:]]
    }

    var context: String { log.joined(separator: ", ") }

    static func address(_ page: UInt64) -> UInt64 { page * pageSize }

    // MARK: operations (each on the real spaces and on the model)

    /// MAP_FIXED private anonymous memory over `pages`.
    func mapPrivate(_ process: Int, _ pages: Range<UInt64>, _ protection: VMProtection) {
        log.append("p\(process).mapPrivate(\(pages), \(protection.rawValue))")
        do throws(VMError) {
            _ = try processes[process].space!.map(
                MapRequest(address: VirtualAddress(Self.address(pages.lowerBound)),
                           length: Self.address(UInt64(pages.count)), protection: protection, fixed: true),
                tlb: machine.mmu)
            for page in pages { models[process][page] = Page(protection: protection) }
        } catch {
            Issue.record("\(context): \(error)")
        }
    }

    /// MAP_FIXED|MAP_SHARED|MAP_ANONYMOUS: a new object over `pages`.
    func mapShared(_ process: Int, _ pages: Range<UInt64>, _ protection: VMProtection) {
        log.append("p\(process).mapShared(\(pages), \(protection.rawValue))")
        let object = objects.count
        objects.append([:])
        do throws(VMError) {
            _ = try processes[process].space!.map(
                MapRequest(address: VirtualAddress(Self.address(pages.lowerBound)),
                           length: Self.address(UInt64(pages.count)), protection: protection, fixed: true,
                           backing: .shared(SharedMemory(pageCount: UInt64(pages.count), frames: machine.frames)),
                           pageOffset: 0),
                tlb: machine.mmu)
            for page in pages {
                models[process][page] = Page(protection: protection, shared: (object, page - pages.lowerBound))
            }
        } catch {
            Issue.record("\(context): \(error)")
        }
    }

    /// MAP_FIXED of `file` from file page `offset`, private or shared.
    /// A shared mapping with write is EACCES and changes nothing.
    func mapFile(_ process: Int, _ pages: Range<UInt64>, _ protection: VMProtection, file: Int, offset: UInt64,
                 shared: Bool) {
        log.append("p\(process).mapFile(\(pages), \(protection.rawValue), f\(file)@\(offset)\(shared ? " shared" : ""))")
        let contents = files[file]
        do throws(VMError) {
            _ = try processes[process].space!.map(
                MapRequest(address: VirtualAddress(Self.address(pages.lowerBound)),
                           length: Self.address(UInt64(pages.count)), protection: protection, fixed: true,
                           backing: shared ? .sharedFile(contents) : .privateFile(contents), pageOffset: offset),
                tlb: machine.mmu)
            #expect(!shared || !protection.contains(.write), "\(context): a writable shared file mapping succeeded")
            for (i, page) in pages.enumerated() {
                let word = Self.fileBytes[file].word(Int((offset + UInt64(i)) * pageSize))
                models[process][page] = Page(protection: protection, value: word, initial: word, sharedFile: shared)
            }
        } catch {
            #expect(error == .permissionDenied && shared && protection.contains(.write), "\(context): \(error)")
        }
    }

    func unmap(_ process: Int, _ pages: Range<UInt64>) {
        log.append("p\(process).unmap(\(pages))")
        do throws(VMError) {
            try processes[process].space!.unmap(VirtualAddress(Self.address(pages.lowerBound))
                                                ..< VirtualAddress(Self.address(pages.upperBound)), tlb: machine.mmu)
            for page in pages { models[process][page] = nil }
        } catch {
            Issue.record("\(context): \(error)")
        }
    }

    func protect(_ process: Int, _ pages: Range<UInt64>, _ protection: VMProtection) {
        log.append("p\(process).protect(\(pages), \(protection.rawValue))")
        let covered = pages.allSatisfy { models[process][$0] != nil }
        // The first refusal in address order: a hole (ENOMEM) or a shared
        // file page that may not get `protection` (EACCES).
        var refusal: VMError? = nil
        for page in pages {
            guard let model = models[process][page] else { refusal = .notMapped; break }
            if model.sharedFile && protection.contains(.write) { refusal = .permissionDenied; break }
        }
        do throws(VMError) {
            try processes[process].space!.protect(VirtualAddress(Self.address(pages.lowerBound))
                                                  ..< VirtualAddress(Self.address(pages.upperBound)),
                                                  to: protection, tlb: machine.mmu)
            #expect(refusal == nil, "\(context): protect should have been refused: \(String(describing: refusal))")
            for page in pages { models[process][page]!.protection = protection }
        } catch {
            #expect(error == refusal && (error != .notMapped || !covered), "\(context): \(error)")
        }
    }

    /// A user load of the page's first word; compares outcome and value.
    func read(_ process: Int, _ page: UInt64) {
        log.append("p\(process).read(\(page))")
        let access = processes[process].space!.userAccess(Self.address(page), .read, machine)
        let expected = models[process][page]
        guard let expected, expected.protection.allowsAccess else {
            #expect(access == .fault(expected == nil ? .notMapped : .accessDenied), "\(context): \(access)")
            return
        }
        guard let physical = access.physical else {
            Issue.record("\(context): read refused: \(access)")
            return
        }
        #expect(machine.memory.pointer(to: physical).load(as: UInt64.self) == value(of: expected), "\(context): value")
    }

    /// A user store of `value` into the page's first word.
    func write(_ process: Int, _ page: UInt64, _ value: UInt64) {
        log.append("p\(process).write(\(page), \(value))")
        let allowed = processes[process].space!.userStore(machine, value, at: Self.address(page))
        guard let expected = models[process][page] else {
            #expect(!allowed, "\(context): a store into no region succeeded")
            return
        }
        #expect(allowed == expected.protection.contains(.write), "\(context): store allowed")
        if allowed { store(value, process, page) }
    }

    /// A kernel-side write (`write(_:at:tlb:)`, forced like FOLL_FORCE)
    /// into a private page, or a writable shared page.
    func kernelWrite(_ process: Int, _ page: UInt64, _ value: UInt64) {
        log.append("p\(process).kernelWrite(\(page), \(value))")
        let expected = models[process][page]
        if let expected, expected.shared != nil, !expected.protection.contains(.write) { return }
        // A shared file mapping refuses even a forced write (no may-write).
        let writable = expected.map { $0.protection.allowsAccess && !$0.sharedFile } ?? false
        do throws(VMError) {
            try processes[process].space!.kernelStore(machine, value, at: Self.address(page))
            #expect(writable, "\(context): kernel write succeeded")
            store(value, process, page)
        } catch {
            #expect(error == .notMapped && !writable, "\(context): \(error)")
        }
    }

    /// Forks `process`; the child becomes the last process.
    func fork(_ process: Int) {
        log.append("p\(process).fork")
        do throws(VMError) {
            let child = try processes[process].space!.fork(kernel: kernel.table, tlb: machine.mmu)
            processes.append(SpaceBox(child))
            models.append(models[process])
        } catch {
            Issue.record("\(context): \(error)")
        }
    }

    /// The process exits: its space is torn down.
    func exit(_ process: Int) {
        log.append("p\(process).exit")
        processes[process].tearDown(machine, kernel: kernel.table)
        processes.remove(at: process)
        models.remove(at: process)
    }

    /// Tears every process down, drops the page caches (no mapping is left,
    /// so every cached page goes); requires every frame back.
    func finish() {
        while !processes.isEmpty { exit(processes.count - 1) }
        for file in files {
            let cached = file.pages.count
            #expect(file.dropUnmappedPages() == cached, "\(context): a cached page still mapped after every exit")
        }
        machine.mmu.cr3 = kernel.table.root
        #expect(machine.frames.allocatedFrameCount == baseline, "\(context): every frame came back")
        #expect(machine.mmu.staleReports.isEmpty, "\(context): \(machine.mmu.staleReports)")
    }

    private func store(_ value: UInt64, _ process: Int, _ page: UInt64) {
        if let shared = models[process][page]!.shared {
            objects[shared.object][shared.index] = value
        } else {
            models[process][page]!.value = value
        }
    }

    private func value(of page: Page) -> UInt64 {
        if let shared = page.shared { return objects[shared.object][shared.index] ?? 0 }
        return page.value
    }

    // MARK: checking

    /// Compares every live space with its model, without faulting anything
    /// in, and runs the invariant checker over all of them.
    func check(pages window: Range<UInt64>) {
        for (process, box) in processes.enumerated() { check(box.space!, process, window) }
        checkInvariants(machine, context) { checker throws(VMInvariantViolation) in
            for box in processes { try checker.add(box.space!) }
            for file in files { checker.add(file: file) }
        }
    }

    /// Compares one process's pages in `window` with its model.
    private func check(_ space: borrowing TestSpace, _ process: Int, _ window: Range<UInt64>) {
        let model = models[process]
        for page in window {
            #expect(peek(space, page) == model[page].map { value(of: $0) }, "\(context): p\(process) page \(page)")
            let region = space.region(containing: VirtualAddress(Self.address(page)))
            #expect(region?.protection == model[page]?.protection, "\(context): p\(process) page \(page) region")
        }
    }

    /// What the page's first word holds for its process, read from the leaf
    /// (present, or parked under PROT_NONE) or the shared object without
    /// faulting: nil if no region holds it.
    private func peek(_ space: borrowing TestSpace, _ page: UInt64) -> UInt64? {
        let address = VirtualAddress(Self.address(page))
        guard let region = space.region(containing: address) else { return nil }
        if let physical = space.table.translate(address) ?? space.table.parkedFrame(at: address) {
            #expect(region.protection.allowsAccess == (space.table.translate(address) != nil),
                    "\(context): present leaves exactly in accessible regions")
            return machine.memory.pointer(to: physical).load(as: UInt64.self)
        }
        if case .shared(let object) = region.backing, let frame = object.pages[region.pageIndex(of: address)] {
            return machine.memory.pointer(to: frame).load(as: UInt64.self)
        }
        if let file = region.backing.file {
            return file.bytes.loadUnaligned(fromByteOffset: Int(region.pageIndex(of: address) * pageSize), as: UInt64.self)
        }
        return 0
    }
}

/// The kernel table the world's spaces share, held by reference.
final class SpaceBoxKernel {
    private var stored: TestPageTable?
    init(_ table: consuming TestPageTable) { stored = consume table }

    var table: TestPageTable {
        _read { yield stored! }
    }

    /// Tears the table down; `table` must not be used afterwards.
    func tearDown(_ machine: PagingMachine) {
        if let table = stored.take() { machine.tearDown(table) }
    }
}
