// Loading a static ELF64 executable into a fresh user address space
// (Linux: fs/binfmt_elf.c, load_elf_binary, for the static non-PIE case).
//
// Every PT_LOAD segment becomes an image region with its own permissions
// (ELF64.parse has already refused W+X, overlaps and bad bounds); its file
// bytes are copied in through the fault path (each page faulted in for
// writing first) and the rest (bss) stays zero, because pages are
// zero-filled on demand. The program break starts at the first page above the
// highest segment. The stack is a region below the top of user space with
// an unmapped guard page under it, holding argc, argv, envp and auxv in the
// Linux layout (InitialStack.swift): 128 KiB, or when the arguments take
// more than half of that, their pages plus 128 KiB (Linux
// setup_arg_pages: stack_expand).

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

/// The initial stack's sizes (non-generic, for the kernel and the tests).
public enum InitialStackLayout {
    /// Room the stack region keeps below the arguments (Linux
    /// setup_arg_pages: stack_expand, 128 KiB).
    public static let expansion: UInt64 = 128 << 10
    /// The most the initial stack image may take: Linux's default stack
    /// limit (_STK_LIM, 8 MiB). execve refuses far less (a quarter of it,
    /// ExecLimits); this bounds what the kernel itself passes (init).
    public static let maximumImage = 8 << 20

    /// The stack region for an image of `imageSize` bytes: the fixed
    /// stack size while the image takes at most half of it (every program
    /// gets the same layout), else the image's pages plus `expansion`.
    public static func regionSize(forImage imageSize: Int) -> UInt64 {
        let imagePages = (UInt64(imageSize) + pageSize - 1) & ~(pageSize - 1)
        return imagePages <= UserMemoryLayout.stackSize / 2 ? UserMemoryLayout.stackSize : imagePages + expansion
    }
}

extension UserAddressSpace where Memory: PhysicalMemory, Frames: FrameProvider {
    /// `loadProgram(_:image:strings:random:tlb:)` for string arrays.
    public mutating func loadProgram<TLB: TLBControl>(
        _ file: UnsafeRawBufferPointer, image: ELF64Image,
        arguments: [[UInt8]], environment: [[UInt8]], random: (UInt64, UInt64), tlb: TLB
    ) throws(ProgramLoadError) -> LoadedProgram {
        guard let strings = ExecArguments(arguments: arguments, environment: environment) else {
            throw .argumentsTooLarge
        }
        return try loadProgram(file, image: image, strings: strings, random: random, tlb: tlb)
    }

    /// Maps `image` (parsed from `file`) and a stack holding `strings`
    /// (argv, envp) and an auxv with `random` into this space, which must
    /// be empty. Returns where to start. On error the space may hold part
    /// of the program: the caller tears it down.
    public mutating func loadProgram<TLB: TLBControl>(
        _ file: UnsafeRawBufferPointer, image: ELF64Image,
        strings: borrowing ExecArguments, random: (UInt64, UInt64), tlb: TLB
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
            stack = try InitialStack.build(strings: strings, auxv: InitialStackAuxv(image: image, random: random),
                                           stackTop: stackTop, limit: InitialStackLayout.maximumImage)
        } catch {
            throw .argumentsTooLarge
        }
        let stackSize = InitialStackLayout.regionSize(forImage: stack.bytes.count)
        do {
            _ = try map(MapRequest(address: VirtualAddress(stackTop - stackSize), length: stackSize,
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
