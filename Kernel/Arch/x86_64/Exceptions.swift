// The 32 architecture exception vectors (Intel SDM vol. 3, table 6-1).
enum ExceptionVector: Int {
    case divideError = 0, debug, nmi, breakpoint, overflow, boundRange
    case invalidOpcode, deviceNotAvailable, doubleFault, coprocessorSegmentOverrun
    case invalidTSS, segmentNotPresent, stackFault, generalProtection, pageFault
    case reserved15, x87FloatingPoint, alignmentCheck, machineCheck, simdFloatingPoint
    case virtualization, controlProtection
    case reserved22, reserved23, reserved24, reserved25, reserved26, reserved27
    case hypervisorInjection, vmmCommunication, security, reserved31

    static let count = 32

    /// Mnemonic and name, as the SDM writes them.
    var name: StaticString {
        switch self {
        case .divideError: return "#DE Divide Error"
        case .debug: return "#DB Debug"
        case .nmi: return "NMI Non-Maskable Interrupt"
        case .breakpoint: return "#BP Breakpoint"
        case .overflow: return "#OF Overflow"
        case .boundRange: return "#BR BOUND Range Exceeded"
        case .invalidOpcode: return "#UD Invalid Opcode"
        case .deviceNotAvailable: return "#NM Device Not Available"
        case .doubleFault: return "#DF Double Fault"
        case .coprocessorSegmentOverrun: return "Coprocessor Segment Overrun"
        case .invalidTSS: return "#TS Invalid TSS"
        case .segmentNotPresent: return "#NP Segment Not Present"
        case .stackFault: return "#SS Stack-Segment Fault"
        case .generalProtection: return "#GP General Protection"
        case .pageFault: return "#PF Page Fault"
        case .x87FloatingPoint: return "#MF x87 Floating-Point Error"
        case .alignmentCheck: return "#AC Alignment Check"
        case .machineCheck: return "#MC Machine Check"
        case .simdFloatingPoint: return "#XM SIMD Floating-Point"
        case .virtualization: return "#VE Virtualization"
        case .controlProtection: return "#CP Control Protection"
        case .hypervisorInjection: return "#HV Hypervisor Injection"
        case .vmmCommunication: return "#VC VMM Communication"
        case .security: return "#SX Security"
        default: return "Reserved"
        }
    }
}

