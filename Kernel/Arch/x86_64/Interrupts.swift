import HAL

// Where every interrupt and exception lands (called by Boot/interrupts.asm).
//
// Returns the frame to resume: the one passed in, unless the scheduler
// switched to another task.
@_cdecl("interrupt_dispatch")
func interruptDispatch(_ frame: UnsafeMutablePointer<hal_interrupt_frame>) -> UnsafeMutablePointer<hal_interrupt_frame> {
    let vector = Int(frame.pointee.vector)
    if vector < ExceptionVector.count {
        if ExceptionFixup.recover(frame) { return frame }
        Panic.exception(frame)
    }
    Console.write("interrupt: unexpected vector "); Console.decimal(UInt64(vector)); Console.write("\n")
    return frame
}
