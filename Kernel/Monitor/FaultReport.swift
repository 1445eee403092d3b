import HAL

// The fault statistics of a kill (MonitorHooks.swift). Called once from
// Lifecycle.killForFault, before the task's space is torn down.
enum FaultReport {
    /// Records the kill of `task` for the exception in `frame` in the fault
    /// statistics (the kill line itself names the mapping: MappingReport).
    static func recordKill(_ task: Task, frame f: hal_interrupt_frame, signal: Signal) {
        let isPageFault = f.vector == UInt64(ExceptionVector.pageFault.rawValue)
        FaultStatistics.recordKill(signal: signal.rawValue)
        if isPageFault {
            FaultStatistics.record(signal == .SIGBUS ? .sigbus : .sigsegv, task: task, address: hal_read_cr2(),
                                   errorCode: f.error_code, rip: f.rip)
        }
    }
}
