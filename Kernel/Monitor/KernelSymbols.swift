import KernelSymbols

// Function names for code addresses, from the table the build embeds
// (Kernel/Monitor/Symbols/kernel_symbols.h). Allocation-free: the panic
// path uses it.
enum KernelSymbolTable {
    /// Symbols farther than this below an address are not taken as its
    /// function (the address is past the last function of a section).
    static let maximumFunctionSize: UInt64 = 64 << 10

    /// The function containing `address` (the last symbol at or below it)
    /// as (name, offset), or nil when the table has none near it.
    static func lookup(_ address: UInt64) -> (name: UnsafePointer<CChar>, offset: UInt64)? {
        var low: UInt64 = 0, high = kernel_symbols_count()
        // Invariant: every entry below `low` is <= address, every entry from `high` is > address.
        while low < high {
            let middle = (low + high) / 2
            if kernel_symbol_at(middle).pointee.address <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let symbol = kernel_symbol_at(low - 1).pointee
        let offset = address - symbol.address
        guard offset < maximumFunctionSize, let name = symbol.name else { return nil }
        return (name, offset)
    }

    /// Writes "name+0xoffset" (or "?") through `sink`, without allocating.
    /// A return address is one past its call, which may be a function's
    /// last instruction: with `isReturnAddress` the name is the caller's.
    static func describe(_ address: UInt64, isReturnAddress: Bool = false, into sink: (UInt8) -> Void) {
        guard let (name, callOffset) = lookup(isReturnAddress ? address - 1 : address) else {
            sink(UInt8(ascii: "?")); return
        }
        let offset = isReturnAddress ? callOffset + 1 : callOffset
        var index = 0
        while name[index] != 0 { sink(UInt8(bitPattern: name[index])); index += 1 }
        sink(UInt8(ascii: "+"))
        formatHex(offset, width: 1, into: sink)
    }

    /// The same as a String (allocates), for the monitor.
    static func describe(_ address: UInt64) -> String {
        var bytes: [UInt8] = []
        describe(address) { bytes.append($0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
