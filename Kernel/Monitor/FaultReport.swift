import HAL

// The end of a fault kill's log line: which mapping the faulting address
// fell in, and the fault statistics (MonitorHooks.swift). Called once from
// Lifecycle.killForFault, before the task's space is torn down.
enum FaultReport {
    /// Records the kill of `task` for the exception in `frame` and returns
    /// "; 0x.. in <kind> <start>-<end> <prot>" or "; 0x.. in no mapping".
    /// The address is CR2 for a page fault, RIP for other exceptions.
    static func afterKill(_ task: Task, frame f: hal_interrupt_frame, signal: Signal) -> String {
        let isPageFault = f.vector == UInt64(ExceptionVector.pageFault.rawValue)
        let address = isPageFault ? hal_read_cr2() : f.rip
        FaultStatistics.recordKill(signal: signal.rawValue)
        if isPageFault {
            FaultStatistics.record(signal == .SIGBUS ? .sigbus : .sigsegv, task: task, address: address,
                                   errorCode: f.error_code, rip: f.rip)
        }
        return "; \(MonitorText.hex(address)) in \(mapping(of: task, containing: address))"
    }

    /// "image 0x40_0000-0x40_2000 r-x" for the region holding `address`, or "no mapping".
    static func mapping(of task: Task, containing address: UInt64) -> String {
        for region in MonitorHooks.regionViews(task) where region.start <= address && address < region.end {
            return "\(region.kind) \(MonitorText.hex(region.start))-\(MonitorText.hex(region.end)) \(region.protection)"
        }
        return "no mapping"
    }
}
