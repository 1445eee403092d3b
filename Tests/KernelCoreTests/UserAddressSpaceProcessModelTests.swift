// Multi-process model tests of the VM (Support/ProcessWorld.swift): fork,
// exit, map (private and shared, anonymous and files), unmap, protect, user reads and writes
// and kernel-side writes over a few pages and two or three processes,
// checked against the model and the VMInvariantChecker after every step.
// - randomized: long random runs from fixed seeds, a window straddling a
//   2 MiB boundary (page tables come and go);
// - exhaustive (small scope): every sequence of up to `depth` operations
//   from a small alphabet over two pages and at most three processes.

import Testing
@testable import KernelCore
import FakeMMU

@Suite struct UserAddressSpaceProcessModelTests {
    static let maxProcesses = 3

    /// Runs `body` on a fresh world over a fresh machine, then tears it down.
    static func withWorld(_ body: (ProcessWorld) throws -> Void) throws {
        let machine = PagingMachine()
        let kernel = SpaceBoxKernel(try machine.newTable(pinnedSlots: kernelHalf))
        let world = try ProcessWorld(machine: machine, kernel: kernel)
        var failure: (any Error)? = nil
        do { try body(world) } catch { failure = error }
        world.finish()
        kernel.tearDown(machine)
        if let failure { throw failure }
    }

    static let windowPages: UInt64 = 12
    static let firstPage: UInt64 = 0x4020_0000 / pageSize - windowPages / 2
    static let protections: [VMProtection] = [.noAccess, .read, .readWrite, .readWrite, .write]

    @Test(arguments: [0x0F0C_0001, 0x0F0C_0002, 0x0F0C_0003, 0x0F0C_0004] as [UInt64])
    func randomOperationsOnSeveralProcessesMatchTheModel(seed: UInt64) throws {
        try Self.withWorld { world in
            var random = SplitMix64(seed: seed)
            let window = Self.firstPage..<Self.firstPage + Self.windowPages
            func anyPage() -> UInt64 { window.lowerBound + random.next() % Self.windowPages }
            func anyRange() -> Range<UInt64> {
                let start = anyPage()
                return start..<min(start + 1 + random.next() % 4, window.upperBound)
            }
            world.mapPrivate(0, window, .readWrite)
            for step in 0..<600 {
                let process = Int(random.next() % UInt64(world.processes.count))
                switch random.next() % 20 {
                case 0: world.mapPrivate(process, anyRange(), Self.protections[Int(random.next() % 5)])
                case 1 where random.next() % 2 == 0:
                    world.mapShared(process, anyRange(), random.next() % 3 == 0 ? .read : .readWrite)
                case 1:
                    world.mapFile(process, anyRange(), Self.protections[Int(random.next() % 5)],
                                  file: Int(random.next() % 2), offset: random.next() % (ProcessWorld.filePages - 4),
                                  shared: random.next() % 2 == 0)
                case 2: world.unmap(process, anyRange())
                case 3, 4: world.protect(process, anyRange(), Self.protections[Int(random.next() % 5)])
                case 5, 6:
                    if world.processes.count < Self.maxProcesses { world.fork(process) }
                case 7:
                    if world.processes.count > 1 { world.exit(process) }
                case 8, 9, 10: world.read(process, anyPage())
                case 11: world.kernelWrite(process, anyPage(), random.next())
                default: world.write(process, anyPage(), random.next())
                }
                world.check(pages: window)
                if world.log.count > 40 { world.log.removeFirst(world.log.count - 40) }  // keep messages short
                _ = step
            }
        }
    }

    /// The exhaustive test's alphabet; "current" is the newest process,
    /// and `switch` makes the oldest one current (so parents write too).
    enum Operation: CaseIterable, CustomStringConvertible {
        case readA, writeA, writeB, fork, exitCurrent, unmapA, protectARead, protectAReadWrite, switchProcess

        var description: String {
            switch self {
            case .readA: return "readA"
            case .writeA: return "writeA"
            case .writeB: return "writeB"
            case .fork: return "fork"
            case .exitCurrent: return "exit"
            case .unmapA: return "unmapA"
            case .protectARead: return "protectA(r)"
            case .protectAReadWrite: return "protectA(rw)"
            case .switchProcess: return "switch"
            }
        }
    }

    static let depth = 4

    /// Every sequence of up to `depth` operations (9 + 81 + 729 + 6561),
    /// each from a process with pages A and B mapped read-write and
    /// untouched; the model and the checker after every step, and every
    /// frame back after each sequence.
    @Test func everySequenceOfFewOperationsOnTwoPagesMatchesTheModel() throws {
        let machine = PagingMachine()
        let kernel = SpaceBoxKernel(try machine.newTable(pinnedSlots: kernelHalf))
        let pageA = Self.firstPage, pageB = Self.firstPage + 1
        var sequences = 0
        var counters = [Int](repeating: 0, count: Self.depth)
        for length in 1...Self.depth {
            counters = [Int](repeating: 0, count: length)
            repeat {
                sequences += 1
                let world = try ProcessWorld(machine: machine, kernel: kernel)
                world.mapPrivate(0, pageA..<pageB + 1, .readWrite)
                var current = 0
                var value: UInt64 = 0
                for index in counters {
                    value += 1
                    switch Operation.allCases[index] {
                    case .readA: world.read(current, pageA)
                    case .writeA: world.write(current, pageA, value)
                    case .writeB: world.write(current, pageB, value)
                    case .fork:
                        if world.processes.count < Self.maxProcesses {
                            world.fork(current)
                            current = world.processes.count - 1
                        }
                    case .exitCurrent:
                        if world.processes.count > 1 {
                            world.exit(current)
                            current = world.processes.count - 1
                        }
                    case .unmapA: world.unmap(current, pageA..<pageA + 1)
                    case .protectARead: world.protect(current, pageA..<pageA + 1, .read)
                    case .protectAReadWrite: world.protect(current, pageA..<pageA + 1, .readWrite)
                    case .switchProcess: current = 0
                    }
                    world.check(pages: pageA..<pageB + 1)
                }
                // Finally every process reads both pages through the fault path.
                for process in world.processes.indices {
                    world.read(process, pageA)
                    world.read(process, pageB)
                }
                world.check(pages: pageA..<pageB + 1)
                world.finish()
            } while Self.advance(&counters, base: Operation.allCases.count)
        }
        kernel.tearDown(machine)
        #expect(sequences == (1...Self.depth).reduce(0) { total, length in
            total + (0..<length).reduce(1) { product, _ in product * Operation.allCases.count }
        })
    }

    /// The next sequence in counting order; false after the last.
    static func advance(_ counters: inout [Int], base: Int) -> Bool {
        for index in counters.indices.reversed() {
            counters[index] += 1
            if counters[index] < base { return true }
            counters[index] = 0
        }
        return false
    }
}
