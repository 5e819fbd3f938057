/// What the guard does when a guarded module does not load.
public enum FailurePolicy: String, Sendable {
    /// Schedule the last good kernel for the next boot and reboot.
    case fallback
    /// Log loudly and let the boot go on.
    case `continue`
}

/// Where `kmodguard complete` writes its Prometheus metrics (`METRICS_FILE`, docs/monitoring.md).
public enum MetricsFile: Equatable, Sendable {
    /// Debian's prometheus-node-exporter reads its textfile collector from this directory.
    public static let defaultPath = "/var/lib/prometheus/node-exporter/kmodguard.prom"
    /// Key not set: `defaultPath`, written only when its directory exists (the exporter is
    /// installed), so a machine without one gets no stray directory.
    case automatic
    /// Set to a path: always written there, its directory created when missing.
    case path(String)
    /// Set empty: never written.
    case disabled
}

/// A blkid tag (`UUID=…`, `LABEL=…`, `PARTUUID=…`, `PARTLABEL=…`) naming a block device.
public struct DeviceTag: Equatable, Sendable, CustomStringConvertible {
    public static let names = ["UUID", "LABEL", "PARTUUID", "PARTLABEL"]
    public let name: String
    public let value: String

    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        let name = String(decoding: bytes[..<equals], as: UTF8.self)
        var value = Array(bytes[(equals + 1)...])
        if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
            value = Array(value.dropFirst().dropLast())
        }
        guard DeviceTag.names.contains(name), !value.isEmpty, value.count <= 128 else { return nil }
        self.name = name
        self.value = String(decoding: value, as: UTF8.self)
    }

    public var description: String { name + "=" + value }
}

/// One problem in a configuration file, with where it is.
public struct ConfigIssue: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case syntax(ShellSyntaxProblem)
        case unknownKey
        case invalidValue(String)
    }

    public let file: String
    public let line: Int
    public let key: String?
    public let kind: Kind

    public var description: String {
        var text = file + ":" + String(line) + ": "
        switch kind {
        case .syntax(let problem):
            text += (key.map { "key " + $0 + ": " } ?? "")
            switch problem {
            case .missingEquals: text += "expected KEY=value"
            case .invalidKey: text += "invalid key name (use letters, digits and _; e.g. MODULES=virtio_blk)"
            case .unterminatedQuote: text += "unterminated quote"
            case .unsafeCharacter(let character):
                text += "'" + character + "' is not allowed here (the file is also read by a shell; quote the value, no $, ` or \\)"
            case .trailingGarbage: text += "text after the value; quote values with spaces: KEY=\"a b\""
            case .notUTF8: text += "not valid UTF-8"
            }
        case .unknownKey:
            text += "unknown key " + (key ?? "?") + " (known: " + GuardConfig.knownKeys.joined(separator: " ") + ")"
        case .invalidValue(let why):
            text += "key " + (key ?? "?") + ": " + why
        }
        return text
    }
}

/// Thrown when a configuration file has problems; carries every one of them.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let issues: [ConfigIssue]
    public var description: String { issues.map { $0.description }.joined(separator: "\n") }
}

/// `/etc/kmodguard/kmodguard.conf`: shell-style `KEY=value` lines that an initramfs script may
/// also source.
public struct GuardConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/kmodguard/kmodguard.conf"
    public static let knownKeys = [
        "MODULES", "WAIT_FOR", "WAIT_TIMEOUT", "ON_FAILURE", "MAX_ATTEMPTS", "GRUBENV", "BOOT_DEVICE",
        "SOURCE", "ACTIVATE", "DATABASE_URL", "METRICS_FILE",
    ]

    /// Guarded module names, in load order.
    public var modules: [String] = []
    /// Devices that must appear once the modules are loaded.
    public var waitFor: [DeviceTag] = []
    /// Seconds to wait for all of `waitFor` together.
    public var waitTimeout: Int = 30
    public var onFailure: FailurePolicy = .fallback
    /// Fallbacks in a row after which the guard gives up and lets the boot go on.
    public var maxAttempts: Int = 3
    /// Path of the GRUB environment block on the running system.
    public var grubenv: String = "/boot/grub/grubenv"
    /// Filesystem holding `grubenv` (normally the one mounted at /boot), mounted by the guard when
    /// grubenv is not reachable otherwise.
    public var bootDevice: DeviceTag?
    /// Post-boot keys, kept verbatim here; the CLI interprets them.
    public var source: String?
    public var activate: String = "reboot"
    public var databaseURL: String?
    public var metricsFile: MetricsFile = .automatic

    public init() {}

    /// Parses `bytes` read from `file` (the name is only used in messages).
    public static func parse(_ bytes: [UInt8], file: String) throws(ConfigError) -> GuardConfig {
        var issues: [ConfigIssue] = []
        var config = GuardConfig()
        let assignments = ShellAssignmentParser.parse(bytes) { line, key, problem in
            issues.append(ConfigIssue(file: file, line: line, key: key, kind: .syntax(problem)))
        }
        for assignment in assignments {
            if let why = config.apply(assignment) {
                let kind: ConfigIssue.Kind = why.isEmpty ? .unknownKey : .invalidValue(why)
                issues.append(ConfigIssue(file: file, line: assignment.line, key: assignment.key, kind: kind))
            }
        }
        if !issues.isEmpty { throw ConfigError(issues: issues) }
        return config
    }

    /// Returns nil when applied, "" for an unknown key, or why the value is invalid.
    mutating func apply(_ assignment: ShellAssignment) -> String? {
        let value = assignment.value
        switch assignment.key {
        case "MODULES":
            let names = splitWords(value)
            for name in names where !isModuleName(name) {
                return "'" + name + "' is not a module name (letters, digits, _ and -)"
            }
            modules = names
        case "WAIT_FOR":
            var tags: [DeviceTag] = []
            for word in splitWords(value) {
                guard let tag = DeviceTag(word) else {
                    return "'" + word + "' is not a device tag (" + DeviceTag.names.joined(separator: "=…, ") + "=…)"
                }
                tags.append(tag)
            }
            waitFor = tags
        case "WAIT_TIMEOUT":
            guard let seconds = parseInteger(value, in: 0...3600) else { return "expected seconds, 0 to 3600" }
            waitTimeout = seconds
        case "ON_FAILURE":
            guard let policy = FailurePolicy(rawValue: value) else { return "expected fallback or continue" }
            onFailure = policy
        case "MAX_ATTEMPTS":
            guard let count = parseInteger(value, in: 1...100) else { return "expected a number, 1 to 100" }
            maxAttempts = count
        case "GRUBENV":
            guard value.utf8.first == UInt8(ascii: "/"), !value.utf8.contains(UInt8(ascii: " ")) else {
                return "expected an absolute path such as /boot/grub/grubenv"
            }
            grubenv = value
        case "BOOT_DEVICE":
            if value.isEmpty {
                bootDevice = nil
            } else {
                guard let tag = DeviceTag(value) else { return "expected a device tag such as UUID=…" }
                bootDevice = tag
            }
        case "SOURCE":
            source = value.isEmpty ? nil : value
        case "ACTIVATE":
            guard value == "reboot" || value == "next-boot" || value == "none" else {
                return "expected reboot, next-boot or none"
            }
            activate = value
        case "DATABASE_URL":
            databaseURL = value.isEmpty ? nil : value
        case "METRICS_FILE":
            if value.isEmpty {
                metricsFile = .disabled
            } else {
                // node_exporter's textfile collector reads only *.prom files.
                guard value.utf8.first == UInt8(ascii: "/"), !value.utf8.contains(UInt8(ascii: " ")),
                      value.utf8.count > 6, value.utf8.suffix(5).elementsEqual(".prom".utf8) else {
                    return "expected an absolute path ending in .prom, such as " + MetricsFile.defaultPath + ", or empty to write none"
                }
                metricsFile = .path(value)
            }
        default:
            return ""
        }
        return nil
    }
}

/// `text` split at blanks and tabs.
public func splitWords(_ text: String) -> [String] {
    text.utf8.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        .map { String(decoding: $0, as: UTF8.self) }
}

/// Module names as modprobe accepts them; `-` and `_` are equivalent there.
public func isModuleName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count <= 56 else { return false }
    for byte in bytes {
        let ok = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        if !ok { return false }
    }
    return true
}

/// Decimal integer within `range`; nil for anything else (no signs, no overflow).
public func parseInteger(_ text: String, in range: ClosedRange<Int>) -> Int? {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
    var value = 0
    for byte in bytes {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return range.contains(value) ? value : nil
}
