// Allocation-free console output, for the panic path and early boot where
// the heap may be unusable. Everywhere else, `print` is fine.
enum Console {
    static func write(_ text: StaticString) {
        text.withUTF8Buffer { for byte in $0 { Serial.put(byte) } }
    }
    static func write(_ text: String) {
        for byte in text.utf8 { Serial.put(byte) }
    }
    static func hex(_ value: UInt64, width: Int = 16) {
        formatHex(value, width: width) { Serial.put($0) }
    }
    static func decimal(_ value: UInt64) {
        formatDecimal(value) { Serial.put($0) }
    }
}
