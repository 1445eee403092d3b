// Starting user space: the boot archive GRUB loaded (module "initrd"),
// then the first program, pid 1.
//
// The kernel command line chooses it as `init="/bin/prog arg1 arg2"` (the
// words become argv; no argument can contain a space). Without `init=`
// the kernel starts /bin/init, the serial shell.
enum InitProcess {
    static let archiveModuleName = "initrd"
    static let defaultInit = "/bin/init"

    /// Reads the archive, starts init and idles; does not return. Without
    /// an archive, falls back to the kernel monitor.
    static func start(bootInfo: Multiboot2Info, commandLine: KernelCommandLine) -> Never {
        guard let archive = loadArchive(bootInfo) else {
            print("init: no boot archive (a multiboot2 module named \"\(archiveModuleName)\"); starting the monitor")
            Monitor.run(bootInfo: bootInfo)
        }
        ProcessTable.fileSystem = ArchiveFileSystem(archive: archive)
        print("Boot archive: \(archive.entries.count) entries")

        SyscallMSRs.install()
        Scheduler.adoptBootThreadAsIdle(stack: Boot.stack)
        let arguments = initArguments(commandLine)
        let path = String(decoding: arguments[0], as: UTF8.self)
        if let errno = ProcessTable.startInit(arguments: arguments) {
            print("init: cannot start \(path): errno \(errno.rawValue)")
            QemuExit.exit(.failure)
        }
        print("init: started \(path) (pid \(ProcessTable.initPid))")
        Scheduler.runIdleLoop()
    }

    /// argv for init: the words of `init=`, or just the default shell.
    static func initArguments(_ commandLine: KernelCommandLine) -> [[UInt8]] {
        let text = commandLine.value("init") ?? defaultInit
        let words = text.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true).map { Array($0) }
        return words.isEmpty ? [Array(defaultInit.utf8)] : words
    }

    /// The ustar archive in the module named "initrd" (or the only module).
    private static func loadArchive(_ bootInfo: Multiboot2Info) -> UstarArchive? {
        let modules = bootInfo.modules
        guard let module = modules.first(where: { $0.name == archiveModuleName }) ?? (modules.count == 1 ? modules.first : nil)
        else { return nil }
        let bytes = UnsafeRawBufferPointer(start: KernelLayout.directMap(module.start), count: Int(module.end - module.start))
        do {
            return try UstarArchive(bytes)
        } catch {
            print("init: the boot archive is not a valid ustar archive: \(error.description.text)")
            return nil
        }
    }
}
