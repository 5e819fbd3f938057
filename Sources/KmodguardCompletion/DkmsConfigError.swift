/// Why DKMS would reject a dkms.conf ("Bad conf file", its exit 8), or why kmodguard refuses
/// one it cannot build faithfully (a key it does not implement). The caller adds the file.
public struct DkmsConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let problems: [String]

    public init(problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "; ") }
}
