import Foundation
import KmodguardTestSupport
import Testing

/// systemd/kmodguard-complete.service against systemd's ordering rules: the boot's targets
/// must never wait for `kmodguard complete` (a download or a build may take hours), while the
/// unit keeps the ordering its default dependencies gave it.
@Suite struct CompletionServiceUnitTests {
    /// `Key=value` lines of the unit, values split at spaces, by key (all sections; the keys
    /// used here occur in one section each).
    static func unit() throws -> [String: [String]] {
        let text = try String(contentsOfFile: DatabaseTestSupport.repository + "/systemd/kmodguard-complete.service", encoding: .utf8)
        var values: [String: [String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            values[parts[0], default: []] += parts[1].split(separator: " ").map(String.init)
        }
        return values
    }

    /// systemd orders a target After= every unit it wants unless either side has
    /// DefaultDependencies=no or the unit is already ordered after the target; for a oneshot,
    /// After= waits until the unit has finished.
    static func targetWaits(_ target: String, for unit: [String: [String]]) -> Bool {
        guard unit["WantedBy", default: []].contains(target) || unit["RequiredBy", default: []].contains(target) else { return false }
        if unit["DefaultDependencies"] == ["no"] { return false }
        if unit["After", default: []].contains(target) { return false }
        return unit["Type"] == ["oneshot"]
    }

    @Test func multiUserTargetDoesNotWaitForComplete() throws {
        let unit = try Self.unit()
        #expect(unit["Type"] == ["oneshot"])
        #expect(unit["WantedBy"] == ["multi-user.target"])
        #expect(!Self.targetWaits("multi-user.target", for: unit), "\(unit)")
    }

    /// What DefaultDependencies=yes gave, and complete still needs: a booted system (basic.target)
    /// and being stopped by a shutdown.
    @Test func keepsTheOrderingOfTheDefaultDependencies() throws {
        let unit = try Self.unit()
        guard unit["DefaultDependencies"] == ["no"] else { return }
        let after = unit["After", default: []]
        #expect(after.contains("sysinit.target") && after.contains("basic.target") && after.contains("network-online.target"))
        #expect(unit["Requires", default: []].contains("sysinit.target"))
        #expect(unit["Conflicts", default: []].contains("shutdown.target"))
        #expect(unit["Before", default: []].contains("shutdown.target"))
    }
}
