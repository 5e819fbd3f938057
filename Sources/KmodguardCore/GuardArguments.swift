/// Command line of `kmodguard-early`, parsed without Foundation or ArgumentParser (the guard is
/// Embedded Swift).
public struct GuardArguments: Equatable, Sendable {
    public enum LogTarget: String, Sendable { case auto, kmsg, stderr }

    public var root = "/"
    public var kernel: String?
    public var config: String?
    public var dryRun = false
    public var noWrite = false
    public var noReboot = false
    /// Only check that the modules resolve for KVER (no devices, no fallback): for install hooks.
    public var checkOnly = false
    public var log: LogTarget = .auto
    /// End with one `kmodguard-hook:` line (exit status, time, meaning): the initramfs hooks' summary.
    public var summary = false
    public var help = false
    public var version = false

    public init() {}

    /// Parses `arguments` (without the program name).
    public static func parse(_ arguments: [String]) throws(UsageError) -> GuardArguments {
        var result = GuardArguments()
        var index = 0
        func value(for option: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count, !arguments[index].isEmpty else { throw UsageError("option " + option + " needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            var argument = arguments[index]
            var inlineValue: String?
            let bytes = Array(argument.utf8)
            if bytes.starts(with: Array("--".utf8)), let equals = bytes.firstIndex(of: UInt8(ascii: "=")) {
                argument = String(decoding: bytes[..<equals], as: UTF8.self)
                inlineValue = String(decoding: bytes[(equals + 1)...], as: UTF8.self)
            }
            func takeValue() throws(UsageError) -> String {
                if let inlineValue {
                    guard !inlineValue.isEmpty else { throw UsageError("option " + argument + " needs a value") }
                    return inlineValue
                }
                return try value(for: argument)
            }
            switch argument {
            case "--root": result.root = try takeValue()
            case "--kernel":
                let text = try takeValue()
                guard KernelRelease(text) != nil else { throw UsageError("--kernel: '" + text + "' is not a kernel release") }
                result.kernel = text
            case "--config": result.config = try takeValue()
            case "--log":
                let text = try takeValue()
                guard let target = LogTarget(rawValue: text) else { throw UsageError("--log: expected auto, kmsg or stderr") }
                result.log = target
            case "--dry-run", "--no-write", "--no-reboot", "--check", "--summary", "--help", "-h", "--version":
                guard inlineValue == nil else { throw UsageError("option " + argument + " takes no value") }
                switch argument {
                case "--dry-run": result.dryRun = true
                case "--no-write": result.noWrite = true
                case "--no-reboot": result.noReboot = true
                case "--check":
                    result.checkOnly = true
                    result.dryRun = true
                    result.noWrite = true
                    result.noReboot = true
                case "--summary": result.summary = true
                case "--version": result.version = true
                default: result.help = true
                }
            default:
                throw UsageError("unknown argument '" + argument + "' (see --help)")
            }
            index += 1
        }
        return result
    }

    public static let helpText = """
    Usage: kmodguard-early [--root DIR] [--kernel KVER] [--config FILE]
                           [--dry-run] [--no-write] [--no-reboot] [--log auto|kmsg|stderr] [--summary]
           kmodguard-early [--root DIR] --check --kernel KVER [--config FILE]

    Runs inside the initramfs before anything waits for the root device. Loads the modules in
    MODULES of kmodguard.conf for the running kernel and waits for the WAIT_FOR devices. If that
    fails, schedules the last good kernel for the next boot in GRUB's environment block
    (next_entry, as grub-reboot does) and reboots.

    Options:
      --root DIR      treat DIR as / for every path (default /)
      --kernel KVER   check for this kernel release instead of the running one
      --config FILE   configuration file (default ROOT/etc/kmodguard/kmodguard.conf)
      --dry-run       insert nothing: resolve modules and check vermagic against KVER
      --no-write      change no file (the decision and its log lines stay the same)
      --no-reboot     never reboot
      --check         only check that MODULES resolve and match KVER (implies --dry-run,
                      --no-write, --no-reboot; no devices, no fallback): exit 0 or 1
      --log TARGET    kmsg, stderr, or auto (kmsg when ROOT is / and /dev/kmsg opens)
      --summary       end with one line for the boot log, as the initramfs hooks ask:
                      "kmodguard-hook: kmodguard-early exit N after T s: meaning"; with
                      --no-write --no-reboot it reads as a dry run (kmodguard.dry_run)
      -h, --help      show this help
      --version       show the version

    Exit status:
      0   the guarded modules loaded and the devices appeared (nothing written)
      1   a module or device failed; the fallback kernel is scheduled (reboot follows)
      2   a module or device failed; no fallback (ON_FAILURE=continue, MAX_ATTEMPTS reached,
          or no usable kernel): the boot goes on
      3   a module or device failed and grubenv cannot be reached: reboot at once so GRUB's
          trial counter boots the last good kernel
      4   the configuration is missing or invalid: nothing checked, the boot goes on
      64  usage error
    """
}

/// A command-line mistake.
public struct UsageError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
