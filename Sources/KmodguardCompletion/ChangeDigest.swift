/// A 64-bit FNV-1a hash for noticing that inputs changed between two runs: stable across runs
/// and machines, cheap, and no cryptographic claim (nothing here defends against an attacker).
public struct ChangeDigest: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
    }

    /// A string field: its length first, so ("ab", "c") and ("a", "bc") differ.
    public mutating func add(field: String) {
        add(String(field.utf8.count).utf8)
        add([0])
        add(field.utf8)
    }

    public var hex: String { String(value, radix: 16) }
}
