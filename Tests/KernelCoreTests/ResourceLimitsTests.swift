// Host tests of the resource-limit table (Kernel/Lib/ResourceLimits.swift):
// Linux's INIT_RLIMITS as defaults, and do_prlimit's checks in its order.

import Testing
@testable import KernelCore

@Suite struct ResourceLimitsTests {
    typealias Resource = ResourceLimits.Resource
    static let infinity = ResourceLimits.infinity

    static func number(_ resource: Resource) -> UInt64 { UInt64(resource.rawValue) }

    @Test func defaultsAreLinuxInitRlimits() throws {
        let limits = ResourceLimits(memoryBytes: 128 << 20)
        #expect(Resource.allCases.count == 16 && Resource.realtimeTimeout.rawValue == 15)
        #expect(Resource.addressSpace.rawValue == 9 && Resource.data.rawValue == 2 && Resource.stack.rawValue == 3)
        #expect(limits[.stack] == ResourceLimit(current: 8 << 20, maximum: Self.infinity), "_STK_LIM")
        #expect(limits[.core] == ResourceLimit(current: 0, maximum: Self.infinity))
        #expect(limits[.openFiles] == ResourceLimit(current: 1024, maximum: 4096), "INR_OPEN_CUR/MAX")
        #expect(limits[.lockedMemory] == ResourceLimit(current: 8 << 20, maximum: 8 << 20), "MLOCK_LIMIT")
        #expect(limits[.messageQueue] == ResourceLimit(current: 819_200, maximum: 819_200), "MQ_BYTES_MAX")
        #expect(limits[.nice] == ResourceLimit(current: 0, maximum: 0))
        #expect(limits[.realtimePriority] == ResourceLimit(current: 0, maximum: 0))
        // fork_init: max_threads = RAM / (8 * THREAD_SIZE) = 128 MiB / 128 KiB = 1024.
        #expect(limits[.processes] == ResourceLimit(current: 512, maximum: 512))
        #expect(limits[.pendingSignals] == ResourceLimit(current: 512, maximum: 512))
        for resource in [Resource.cpu, .fileSize, .data, .residentSet, .addressSpace, .locks, .realtimeTimeout] {
            #expect(limits[resource] == .unlimited, "\(resource)")
        }
        #expect(ResourceLimits(memoryBytes: 0)[.processes].current == 10, "MIN_THREADS / 2")
    }

    @Test func readingChecksTheResourceNumber() throws {
        let limits = ResourceLimits(memoryBytes: 1 << 30)
        #expect(try limits.limit(15) == .unlimited)
        for bad: UInt64 in [16, 17, 0xFFFF_FFFF, UInt64.max, 1 << 32] {
            #expect(throws: ResourceLimitError.invalidArgument) { try limits.limit(bad) }
        }
    }

    @Test func settingFollowsDoPrlimit() throws {
        var limits = ResourceLimits(memoryBytes: 1 << 30)
        let stack = Self.number(.stack)
        let old = try limits.set(stack, to: ResourceLimit(current: 1 << 20, maximum: 4 << 20), privileged: false)
        #expect(old == ResourceLimit(current: 8 << 20, maximum: Self.infinity), "returns the old limit")
        #expect(limits[.stack] == ResourceLimit(current: 1 << 20, maximum: 4 << 20))
        let before = limits
        #expect(throws: ResourceLimitError.invalidArgument, "resource 16") {
            try limits.set(16, to: ResourceLimit(current: 1, maximum: 2), privileged: true)
        }
        #expect(throws: ResourceLimitError.invalidArgument, "soft above hard") {
            try limits.set(stack, to: ResourceLimit(current: 3, maximum: 2), privileged: true)
        }
        #expect(throws: ResourceLimitError.invalidArgument, "EINVAL before EPERM") {
            try limits.set(stack, to: ResourceLimit(current: Self.infinity, maximum: 8 << 20), privileged: false)
        }
        #expect(throws: ResourceLimitError.notPermitted, "raising the hard limit without privilege") {
            try limits.set(stack, to: ResourceLimit(current: 1 << 20, maximum: 5 << 20), privileged: false)
        }
        #expect(throws: ResourceLimitError.notPermitted, "RLIMIT_NOFILE above fs.nr_open, even privileged") {
            try limits.set(Self.number(.openFiles), to: ResourceLimit(current: 1024, maximum: (1 << 20) + 1),
                           privileged: true)
        }
        #expect(limits == before, "nothing changed on error")
        _ = try limits.set(stack, to: ResourceLimit(current: 2 << 20, maximum: 4 << 20), privileged: false)
        _ = try limits.set(stack, to: ResourceLimit(current: 2 << 20, maximum: 2 << 20), privileged: false)
        _ = try limits.set(stack, to: .unlimited, privileged: true)
        #expect(limits[.stack] == .unlimited, "privileged: the hard limit may rise")
        _ = try limits.set(Self.number(.openFiles), to: ResourceLimit(current: 1 << 20, maximum: 1 << 20),
                           privileged: true)
        #expect(limits[.openFiles].maximum == 1 << 20, "exactly fs.nr_open is fine")
    }
}
