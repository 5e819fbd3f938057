/// What the index offers for one kernel: the chosen driver version and, when its publisher
/// built every wanted module for exactly that kernel release, those prebuilt modules (installing
/// them saves the compile; otherwise the source is built).
public struct DriverSelection: Equatable, Sendable {
    public var driver: DriverEntry
    /// Module name → prebuilt `.ko` for the exact kernel, or nil: build from source.
    public var prebuilt: [String: DriverArtifact]?

    public init(driver: DriverEntry, prebuilt: [String: DriverArtifact]?) {
        self.driver = driver
        self.prebuilt = prebuilt
    }
}
