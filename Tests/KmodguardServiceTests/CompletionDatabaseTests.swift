import Foundation
import KmodguardCompletion
import KmodguardCore
import KmodguardDatabase
@testable import KmodguardService
import KmodguardTestSupport
import Testing

/// `complete` against a real driver database on the loopback HTTPS server: what a failed
/// download or a refused database leaves in the state, and whether the next run tries again.
/// No kernel headers are needed: the runs end before (or at) the build.
@Suite struct CompletionDatabaseTests {
    let old = KernelRelease("6.1.0-55-cloud-amd64")!
    let new = KernelRelease("6.1.0-56-cloud-amd64")!

    /// The real database client and the real outcome mapping (`LiveCompletionSteps.obtain`),
    /// with the bed's test CA; the initramfs step is not reached in these tests.
    struct DatabaseSteps: CompletionSteps {
        let live: LiveCompletionSteps
        let database: DriverDatabase
        var fetched: [KernelRelease] = []

        func driverIdentity() -> String { database.fingerprint() }
        mutating func obtainDriver(for kernel: KernelRelease) -> DriverOutcome {
            fetched.append(kernel)
            return live.obtain(from: database, kernel: kernel)
        }
        mutating func rebuildInitramfs(for kernel: KernelRelease, modules: [String]) -> InitramfsOutcome { .skipped("not in this test") }
    }

    /// The old kernel runs with its driver and the guard passing; the new one lacks it.
    func snapshot(_ bed: DatabaseTestBed, databaseURL: String) throws -> SystemSnapshot {
        let text = "MODULES=kmodguard_fixture\nACTIVATE=none\nDATABASE_URL=" + databaseURL + "\n"
        let config = try GuardConfig.parse(Array(text.utf8), file: "test.conf")
        return SystemSnapshot(
            root: bed.systemRoot, config: config, configBytes: Array(text.utf8), running: old, guardVerdict: "passed",
            grubenvPath: bed.root + "/boot/grub/grubenv", grubenv: GrubEnvBlock(), grubenvProblem: nil,
            menu: CompletionRunTests().menu(), grubConfigPath: bed.root + "/boot/grub/grub.cfg", kernels: [new, old],
            availability: [old: .resolved, new: .unresolved(["kmodguard_fixture"])])
    }

    /// One `complete` run with a fresh client (a new process), as the service makes it.
    func run(_ bed: DatabaseTestBed, url: String? = nil, state: PersistentState = PersistentState()) throws -> CompletionRun<DatabaseSteps> {
        let snapshot = try snapshot(bed, databaseURL: url ?? bed.url)
        let live = LiveCompletionSteps(context: CommandContext(root: bed.systemRoot), snapshot: snapshot)
        let steps = DatabaseSteps(live: live, database: bed.client(url))
        var completion = CompletionRun(steps: steps, snapshot: snapshot, state: state, now: "2026-12-05T00:00:00Z")
        completion.perform()
        return completion
    }

    /// The case: the archive answers 500 for a whole run (every attempt), then the server
    /// is healthy. The failure must not be remembered as a failed build: the next run fetches the
    /// archive again, with nothing changed in the database, the kernels or the configuration.
    @Test func archiveServerErrorIsRetriedOnTheNextRun() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        // bed.policy makes 3 attempts: all three get the 500.
        let flaky = "/flaky/3x500/" + bed.name + "-archive/" + bed.name
        try bed.publish(baseURL: bed.server.base + flaky)

        let first = try run(bed)
        #expect(first.steps.fetched == [new])
        let record = try #require(first.state.kernels[new.string])
        #expect(record.state == "download-failed")
        #expect(record.message?.contains("HTTP status 500") == true, "\(record)")
        #expect(!first.messages.contains { $0.contains("build failed") }, "\(first.messages)")
        #expect(first.messages.contains { $0.hasPrefix(new.string + ": no driver from the database, retrying on the next run: ") },
                "\(first.messages)")
        // The machine is still kept on the working kernel meanwhile.
        #expect(first.grubChanges.contains { $0.name == "kmodguard_pin" })
        #expect(first.failures == 1)

        let second = try run(bed, state: first.state)
        #expect(!second.messages.contains { $0.contains("not retrying") }, "\(second.messages)")
        #expect(second.steps.fetched == [new])
        // The fourth request for the archive (the first of this run) got it.
        #expect(bed.server.requests(containing: flaky).count == 4)
        #expect(second.state.kernels[new.string]?.state != "download-failed", "\(second.messages)")
    }

    /// A refusal (here the archive's sha256) is remembered like a failed build, but is not
    /// called one.
    @Test func databaseRefusalIsRememberedButNotCalledABuildFailure() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.corrupt(try bed.publish().driver.source)

        let first = try run(bed)
        #expect(!first.messages.contains { $0.contains("build failed") }, "\(first.messages)")
        #expect(first.messages.contains { $0.hasPrefix(new.string + ": no driver from the database: " + bed.url) && $0.contains("sha256 check failed") },
                "\(first.messages)")
        let record = try #require(first.state.kernels[new.string])
        #expect(record.state == "failed")
        #expect(record.message?.hasPrefix("driver database: " + bed.url) == true, "\(record)")

        let second = try run(bed, state: first.state)
        #expect(second.steps.fetched.isEmpty)
        #expect(second.messages.contains { $0.contains("not retrying") })
    }

    /// One run asks for the index for the fingerprint and for each kernel's driver; it is read
    /// once: removed after the first question, the later ones still get the same index.
    @Test func oneRunReadsTheIndexOnce() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        let url = "file://" + bed.database + "/"
        var steps = LiveCompletionSteps(context: CommandContext(root: bed.systemRoot), snapshot: try snapshot(bed, databaseURL: url))
        let identity = steps.driverIdentity()
        #expect(identity.contains(" generation "))
        try FileManager.default.removeItem(atPath: bed.database + "/index.json")
        try FileManager.default.removeItem(atPath: bed.database + "/index.json.sig")
        #expect(steps.driverIdentity() == identity)
        // The tarball is fetched with the index already read (the build then stops at the headers).
        let outcome = steps.obtainDriver(for: new)
        #expect(!String(describing: outcome).contains("index.json"), "\(outcome)")
    }

    /// A whole `complete` over HTTPS, counted at the server: the signature, the index and the
    /// archive once each; and when the index answers 500, one round of attempts in all.
    @Test func oneRunDownloadsTheIndexOnce() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish()
        let snapshot = try snapshot(bed, databaseURL: bed.url)
        let live = LiveCompletionSteps(context: CommandContext(root: bed.systemRoot), snapshot: snapshot, policy: bed.policy)
        var completion = CompletionRun(steps: live, snapshot: snapshot, state: PersistentState(), now: "2026-12-05T00:00:00Z")
        completion.perform()
        let prefix = "/" + bed.name + "/"
        #expect(bed.server.requests(containing: bed.name) == [prefix + "index.json.sig", prefix + "index.json", prefix + published.driver.source.url],
                "\(completion.messages)")

        let down = bed.server.base + "/status/500/" + bed.name + "-down/"
        let downSnapshot = try self.snapshot(bed, databaseURL: down)
        let downSteps = LiveCompletionSteps(context: CommandContext(root: bed.systemRoot), snapshot: downSnapshot, policy: bed.policy)
        var downRun = CompletionRun(steps: downSteps, snapshot: downSnapshot, state: PersistentState(), now: "2026-12-05T00:00:00Z")
        downRun.perform()
        #expect(bed.server.requests(containing: bed.name + "-down/").count == bed.policy.attempts, "\(downRun.messages)")
        #expect(downRun.state.kernels[new.string]?.state == "download-failed")
    }
}
