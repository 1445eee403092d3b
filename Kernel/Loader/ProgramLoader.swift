// Loading a static ELF64 executable into a fresh user address space
// (Linux: fs/binfmt_elf.c, load_elf_binary, for the static non-PIE case).
//
// Every PT_LOAD segment is mapped as Linux's elf_load/elf_map map it
// (ELF64.parse has already refused W+X, overlaps, bad bounds and offsets
// not congruent to their addresses modulo the page size):
// - its file part, [page of vaddr, vaddr + filesz rounded up to a page), is
//   a private file mapping of the executable at the file page holding
//   p_offset: nothing is copied at exec, the fault path maps the file's
//   page-cache frames, so every process running the program shares its
//   text and read-only data, and a write (data) copies the page. The bytes
//   of the first page before vaddr, and of the last past vaddr + filesz
//   when there is no bss, are the file's, as on Linux;
// - where file data ends inside a page and bss follows, the rest of that
//   page is zeroed (Linux padzero: clear_user of the tail, which makes
//   that one page a private copy);
// - the bss pages past it are private anonymous (Linux vm_brk_flags),
//   zero-filled on demand, with the segment's protection.
// Both parts are image regions. A segment whose offset and address are not
// congruent (only an image not made by ELF64.parse) is copied instead: an
// anonymous image region with the file bytes written in.
// Known deviations: Linux's padzero fails on a read-only segment and the
// failure is ignored, leaving the file's bytes where its bss begins; the
// loader's write goes through (FOLL_FORCE), so bss is zero as the ELF
// specification says. Linux's vm_brk_flags makes bss read-write whatever
// the segment asks; here it keeps the segment's protection.
//
// The program break starts at the first page above the highest segment.
// The stack is a region below the top of user space with an unmapped
// guard page under it, holding argc, argv, envp and auxv in the Linux
// layout (InitialStack.swift): 128 KiB, or when the arguments take more
// than half of that, their pages plus 128 KiB (Linux setup_arg_pages:
// stack_expand).

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
        _ file: FileContents, image: ELF64Image,
        arguments: [[UInt8]], environment: [[UInt8]], random: (UInt64, UInt64), tlb: TLB
    ) throws(ProgramLoadError) -> LoadedProgram {
        guard let strings = ExecArguments(arguments: arguments, environment: environment) else {
            throw .argumentsTooLarge
        }
        return try loadProgram(file, image: image, strings: strings, random: random, tlb: tlb)
    }

    /// Maps `image` (parsed from `file`'s bytes) and a stack holding `strings`
    /// (argv, envp) and an auxv with `random` into this space, which must
    /// be empty. Returns where to start. On error the space may hold part
    /// of the program: the caller tears it down.
    public mutating func loadProgram<TLB: TLBControl>(
        _ file: FileContents, image: ELF64Image,
        strings: borrowing ExecArguments, random: (UInt64, UInt64), tlb: TLB
    ) throws(ProgramLoadError) -> LoadedProgram {
        var highestEnd: UInt64 = 0
        for segment in image.segments {
            do {
                if segment.fileOffset % pageSize == segment.virtualAddress % pageSize {
                    try mapSegment(segment, of: file, tlb: tlb)
                } else {
                    try copySegment(segment, of: file, tlb: tlb)
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

extension UserAddressSpace where Memory: PhysicalMemory, Frames: FrameProvider {
    /// Maps `segment` as Linux's elf_load does (see the header): the file
    /// part as a private file mapping, the tail of its last page zeroed if
    /// bss follows, the remaining bss anonymous.
    /// Contract: p_offset and p_vaddr are congruent modulo the page size.
    mutating func mapSegment<TLB: TLBControl>(_ segment: ELF64Segment, of file: FileContents,
                                              tlb: TLB) throws(VMError) {
        let protection = VMProtection(segment.permissions)
        var zeroStart = segment.pageStart
        if segment.fileSize > 0 {
            let fileEnd = segment.virtualAddress + segment.fileSize
            let mappedEnd = (fileEnd + pageSize - 1) & ~(pageSize - 1)
            let firstFilePage = (segment.fileOffset - segment.virtualAddress % pageSize) / pageSize
            _ = try map(MapRequest(address: VirtualAddress(segment.pageStart), length: mappedEnd - segment.pageStart,
                                   protection: protection, kind: .image, fixed: true,
                                   backing: .privateFile(file), pageOffset: firstFilePage), tlb: tlb)
            if segment.memorySize > segment.fileSize && fileEnd < mappedEnd {
                // padzero: the bss starts inside the last file page.
                try zero(count: Int(mappedEnd - fileEnd), at: VirtualAddress(fileEnd), tlb: tlb)
            }
            zeroStart = mappedEnd
        }
        if zeroStart < segment.pageEnd {
            _ = try map(MapRequest(address: VirtualAddress(zeroStart), length: segment.pageEnd - zeroStart,
                                   protection: protection, kind: .image, fixed: true), tlb: tlb)
        }
    }

    /// Loads `segment` by copying: an anonymous image region over its pages
    /// with the file bytes written in, the rest zero (for a segment that
    /// cannot be mapped from the file).
    mutating func copySegment<TLB: TLBControl>(_ segment: ELF64Segment, of file: FileContents,
                                               tlb: TLB) throws(VMError) {
        _ = try map(MapRequest(address: VirtualAddress(segment.pageStart), length: segment.pageEnd - segment.pageStart,
                               protection: VMProtection(segment.permissions), kind: .image, fixed: true), tlb: tlb)
        guard segment.fileSize > 0 else { return }
        let start = Int(segment.fileOffset)
        let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + Int(segment.fileSize)])
        try write(bytes, at: VirtualAddress(segment.virtualAddress), tlb: tlb)
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
