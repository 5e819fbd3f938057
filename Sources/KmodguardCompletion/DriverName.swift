/// The spelling rules for names that end up in paths and module lookups (driver names,
/// versions, module names), so nothing from the network can smuggle `/`, `..` or spaces in.
public enum DriverName {
    /// 1 to 64 bytes of `[A-Za-z0-9._-]` plus `extra`, not starting with `.` or `-`.
    public static func isValid(_ text: String, extra: [UInt8] = []) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 64, bytes[0] != UInt8(ascii: "."), bytes[0] != UInt8(ascii: "-") else {
            return false
        }
        for byte in bytes {
            let plain = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            if !plain && !extra.contains(byte) { return false }
        }
        return true
    }

    /// A module name as libkmod compares it: `-` and `_` are the same.
    public static func moduleKey(_ name: String) -> String {
        String(decoding: name.utf8.map { $0 == UInt8(ascii: "-") ? UInt8(ascii: "_") : $0 }, as: UTF8.self)
    }

    /// 64 lowercase hex digits.
    public static func isSHA256(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 64 && bytes.allSatisfy {
            ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
        }
    }
}
