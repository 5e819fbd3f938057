import Foundation
import KmodguardCore
import KmodguardSystem
import Logging
import Testing
@testable import KmodguardService

@Suite struct StateLockTests {
    /// The completion service and a kernel hook (or kernel-removed) never change state at once:
    /// the second waits, and after its wait fails naming the lock and what to do.
    @Test func aSecondRunWaitsForTheFirst() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("statelock-" + UUID().uuidString).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let root = SystemRoot(path)
        let logger = Logger(label: "test")
        let first = try StateLock.acquire(root: root, logger: logger, timeoutSeconds: 1)
        #expect(FileManager.default.fileExists(atPath: path + "/var/lib/kmodguard/lock"))
        do {
            _ = try StateLock.acquire(root: root, logger: logger, timeoutSeconds: 1)
            Issue.record("a second holder got the lock")
        } catch {
            #expect(error.description.hasPrefix(path + "/var/lib/kmodguard/lock is still locked after 1 s (held by pid \(getpid()))"))
            #expect(error.description.contains("another kmodguard run (complete or a kernel hook) has not finished"))
        }
        first.release()
        try StateLock.acquire(root: root, logger: logger, timeoutSeconds: 1).release()
    }
}
