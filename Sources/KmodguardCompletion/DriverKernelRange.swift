public import KmodguardCore

/// Kernels a driver version supports: `from` ≤ kernel < `before`, ordered as `KernelRelease`
/// orders releases (so `6.1` ≤ `6.1.0-56-cloud-amd64` < `6.2`). Either bound may be absent.
public struct DriverKernelRange: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var from: String?
    public var before: String?

    public init(from: String? = nil, before: String? = nil) {
        self.from = from
        self.before = before
    }

    /// Parses `FROM..BEFORE`, `FROM..` or `..BEFORE` (the `publish --kernels` syntax).
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        var split: Int?
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "."), bytes[index + 1] == UInt8(ascii: ".") {
                split = index
                break
            }
            index += 1
        }
        guard let split else { return nil }
        let lower = String(decoding: bytes[..<split], as: UTF8.self)
        let upper = String(decoding: bytes[(split + 2)...], as: UTF8.self)
        self.init(from: lower.isEmpty ? nil : lower, before: upper.isEmpty ? nil : upper)
        guard problem == nil else { return nil }
    }

    public func contains(_ kernel: KernelRelease) -> Bool {
        if let from {
            guard let lower = KernelRelease(from), lower <= kernel else { return false }
        }
        if let before {
            guard let upper = KernelRelease(before), kernel < upper else { return false }
        }
        return true
    }

    /// Why the bounds are unusable, or nil.
    public var problem: String? {
        if let from, KernelRelease(from) == nil { return "'" + from + "' is not a kernel release" }
        if let before, KernelRelease(before) == nil { return "'" + before + "' is not a kernel release" }
        if let from, let before, let lower = KernelRelease(from), let upper = KernelRelease(before), !(lower < upper) {
            return "empty range: " + from + " is not below " + before
        }
        return nil
    }

    public var description: String { (from ?? "") + ".." + (before ?? "") }
}
