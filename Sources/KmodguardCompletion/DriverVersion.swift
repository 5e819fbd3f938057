import KmodguardCore

/// A driver's version, ordered like packages and kernels (dpkg rules: `1.10` > `1.9`,
/// `2.0~rc1` < `2.0`), so "the newest version" means what a person expects.
public struct DriverVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public let string: String
    private let release: KernelRelease

    /// Accepts `[A-Za-z0-9.+~_-]`, 1 to 64 bytes.
    public init?(_ string: String) {
        guard DriverName.isValid(string, extra: [UInt8(ascii: "+"), UInt8(ascii: "~")]),
              let release = KernelRelease(string) else { return nil }
        self.string = string
        self.release = release
    }

    public var description: String { string }

    public static func < (lhs: DriverVersion, rhs: DriverVersion) -> Bool { lhs.release < rhs.release }
    public static func == (lhs: DriverVersion, rhs: DriverVersion) -> Bool { lhs.string == rhs.string }
    public func hash(into hasher: inout Hasher) { hasher.combine(string) }
}
