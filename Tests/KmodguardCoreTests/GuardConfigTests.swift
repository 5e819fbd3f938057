import Foundation
import KmodguardCore
import Testing

@Suite struct GuardConfigTests {
    func parse(_ text: String) throws(ConfigError) -> GuardConfig {
        try GuardConfig.parse(Array(text.utf8), file: "/etc/kmodguard/kmodguard.conf")
    }

    @Test func defaults() throws {
        let config = try parse("")
        #expect(config.modules.isEmpty)
        #expect(config.waitTimeout == 30)
        #expect(config.onFailure == .fallback)
        #expect(config.maxAttempts == 3)
        #expect(config.grubenv == "/boot/grub/grubenv")
        #expect(config.bootDevice == nil)
    }

    @Test func fullFile() throws {
        let config = try parse("""
        # kmodguard configuration
        MODULES="virtio_blk hptnvme"
          WAIT_FOR='UUID=0b6f0b8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b LABEL=root'
        WAIT_TIMEOUT=15   # seconds
        export ON_FAILURE=continue
        MAX_ATTEMPTS=2
        GRUBENV=/boot/efi/EFI/debian/grubenv
        BOOT_DEVICE=PARTUUID=1234-02

        ACTIVATE=next-boot
        """)
        #expect(config.modules == ["virtio_blk", "hptnvme"])
        #expect(config.waitFor.map(\.description) == ["UUID=0b6f0b8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "LABEL=root"])
        #expect(config.waitTimeout == 15)
        #expect(config.onFailure == .continue)
        #expect(config.maxAttempts == 2)
        #expect(config.grubenv == "/boot/efi/EFI/debian/grubenv")
        #expect(config.bootDevice?.description == "PARTUUID=1234-02")
        #expect(config.activate == "next-boot")
    }

    @Test func lastAssignmentWinsLikeAShell() throws {
        #expect(try parse("MODULES=a\nMODULES=b\n").modules == ["b"])
    }

    @Test func quotedTagValueIsUnquoted() throws {
        #expect(try parse("WAIT_FOR='LABEL=\"root\"'").waitFor.first?.value == "root")
    }

    @Test func unknownKeyNamesFileLineAndKey() {
        do {
            _ = try parse("MODULES=a\nMODUELS=b\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.issues.count == 1)
            #expect(error.issues.first?.line == 2)
            #expect(error.issues.first?.key == "MODUELS")
            #expect(error.description.hasPrefix("/etc/kmodguard/kmodguard.conf:2: unknown key MODUELS"))
        }
    }

    @Test(arguments: [
        ("MODULES", 1, "MODULES"),
        ("MODULES=\"a b", 1, "MODULES"),
        ("MODULES=$(reboot)", 1, "MODULES"),
        ("MODULES=\"`reboot`\"", 1, "MODULES"),
        ("MODULES=a; reboot", 1, "MODULES"),
        ("MODULES=a b", 1, "MODULES"),
        ("WAIT_TIMEOUT=-1", 1, "WAIT_TIMEOUT"),
        ("WAIT_TIMEOUT=99999999999999999999", 1, "WAIT_TIMEOUT"),
        ("MAX_ATTEMPTS=0", 1, "MAX_ATTEMPTS"),
        ("ON_FAILURE=panic", 1, "ON_FAILURE"),
        ("WAIT_FOR=/dev/sda1", 1, "WAIT_FOR"),
        ("GRUBENV=boot/grub/grubenv", 1, "GRUBENV"),
        ("\n\nMODULES=../../etc/passwd", 3, "MODULES"),
        ("1MODULES=a", 1, "1MODULES"),
        ("MODULES=\"${HOME}\"", 1, "MODULES"),
        ("METRICS_FILE=kmodguard.prom", 1, "METRICS_FILE"),
        ("METRICS_FILE=/var/lib/prometheus/node-exporter/kmodguard.txt", 1, "METRICS_FILE"),
        ("METRICS_FILE=/.prom", 1, "METRICS_FILE"),
    ])
    func malformedLinesAreRefusedWithTheirLine(text: String, line: Int, key: String) {
        do {
            _ = try parse(text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.issues.first?.line == line)
            #expect(error.issues.first?.key == key)
        }
    }

    /// Unset: the exporter's directory when it exists; a path: always; empty: never.
    @Test(arguments: [
        ("", MetricsFile.automatic),
        ("METRICS_FILE=\n", .disabled),
        ("METRICS_FILE=/srv/metrics/kmodguard.prom\n", .path("/srv/metrics/kmodguard.prom")),
    ])
    func metricsFile(text: String, want: MetricsFile) throws {
        #expect(try parse(text).metricsFile == want)
    }

    @Test func everyProblemIsReported() {
        do {
            _ = try parse("A=1\nMODULES=ok\nB=2\nWAIT_TIMEOUT=x\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.issues.map(\.line) == [1, 3, 4])
        }
    }

    @Test func hostileInputNeverTraps() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let length = Int(generator.next() % 200)
            var bytes: [UInt8] = []
            for _ in 0..<length {
                let pick = generator.next() % 10
                bytes.append(pick < 6 ? Array("MODULES=\"'$`#\\ \n\tWAIT_FOR=UUID".utf8)[Int(generator.next() % 30)] : UInt8(generator.next() & 0xFF))
            }
            _ = try? GuardConfig.parse(bytes, file: "fuzz")
        }
    }
}

/// A small deterministic generator for reproducible random tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ShippedConfigTests {
    @Test func exampleConfigParses() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("etc/kmodguard.conf")
        let config = try GuardConfig.parse(Array(try Data(contentsOf: url)), file: url.path)
        #expect(config == GuardConfig())
    }
}
