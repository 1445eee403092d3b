// Loading a static ELF64 executable into a fresh user address space
// (Linux: fs/binfmt_elf.c, load_elf_binary, for the static non-PIE case).
//
// Every PT_LOAD segment becomes an image region with its own permissions
// (ELF64.parse has already refused W+X, overlaps and bad bounds); its file
// bytes are copied in through the fault path (each page faulted in for
// writing first) and the rest (bss) stays zero, because pages are
// zero-filled on demand. The program break starts at the first page above the
// highest segment. The stack is a fixed region below the top of user space
// with an unmapped guard page under it, holding argc, argv, envp and auxv
// in the Linux layout (InitialStack.swift).

public struct LoadedProgram: Equatable {
    public var entry: UInt64
    public var stackPointer: UInt64
}

public enum ProgramLoadError: Error, Equatable {
    case malformed(ELF64Error)
    /// A segment lies where user mappings may not go (below VM userStart).
    case segmentNotMappable
    case argumentsTooLarge
    case outOfMemory
}

extension UserAddressSpace where Memory: PhysicalMemory, Frames: FrameProvider {
    /// Maps `image` (parsed from `file`) and a stack holding `arguments`,
    /// `environment` and an auxv with `random` into this space, which must
    /// be empty. Returns where to start. On error the space may hold part
    /// of the program: the caller tears it down.
    public mutating func loadProgram<TLB: TLBControl>(
        _ file: UnsafeRawBufferPointer, image: ELF64Image,
        arguments: [[UInt8]], environment: [[UInt8]], random: (UInt64, UInt64), tlb: TLB
    ) throws(ProgramLoadError) -> LoadedProgram {
        var highestEnd: UInt64 = 0
        for segment in image.segments {
            let request = MapRequest(address: VirtualAddress(segment.pageStart),
                                     length: segment.pageEnd - segment.pageStart,
                                     protection: VMProtection(segment.permissions), kind: .image, fixed: true)
            do {
                _ = try map(request, tlb: tlb)
                if segment.fileSize > 0 {
                    let start = Int(segment.fileOffset)
                    let bytes = UnsafeRawBufferPointer(rebasing: file[start ..< start + Int(segment.fileSize)])
                    try write(bytes, at: VirtualAddress(segment.virtualAddress), tlb: tlb)
                }
            } catch {
                throw error == .outOfMemory ? .outOfMemory : .segmentNotMappable
            }
            highestEnd = max(highestEnd, segment.pageEnd)
        }
        setInitialBreak(VirtualAddress(highestEnd))

        let stackTop = Self.stackTop.raw
        let stack: InitialStackImage
        do {
            stack = try InitialStack.build(arguments: arguments, environment: environment,
                                           auxv: InitialStackAuxv(image: image, random: random),
                                           stackTop: stackTop, limit: Int(Self.stackSize) / 2)
        } catch {
            throw .argumentsTooLarge
        }
        do {
            _ = try map(MapRequest(address: VirtualAddress(stackTop - Self.stackSize), length: Self.stackSize,
                                   protection: [.read, .write], kind: .stack, fixed: true), tlb: tlb)
            let written: Result<Void, VMError> = stack.bytes.withUnsafeBytes { bytes in
                do throws(VMError) {
                    return .success(try write(bytes, at: VirtualAddress(stack.stackPointer), tlb: tlb))
                } catch {
                    return .failure(error)
                }
            }
            try written.get()
        } catch {
            throw .outOfMemory
        }
        return LoadedProgram(entry: image.entry, stackPointer: stack.stackPointer)
    }
}

extension VMProtection {
    /// The protection an ELF segment asks for (p_flags).
    public init(_ permissions: ELF64Permissions) {
        self = []
        if permissions.contains(.read) { insert(.read) }
        if permissions.contains(.write) { insert(.write) }
        if permissions.contains(.execute) { insert(.execute) }
    }
}
