import KmodguardCompletion
import KmodguardCore
import Testing

/// The index model: validation and driver selection.
@Suite struct DriverIndexTests {
    let digest = String(repeating: "ab", count: 32)
    var artifact: DriverArtifact { DriverArtifact(url: "sources/x.tar.gz", sha256: digest, size: 10) }

    func driver(_ version: String, name: String = "hpt", modules: [String] = ["rr3740a"], kernels: [DriverKernelRange] = [],
                prebuilt: [String: [String: DriverArtifact]] = [:]) -> DriverEntry {
        DriverEntry(name: name, version: version, modules: modules, kernels: kernels, source: artifact, prebuilt: prebuilt)
    }

    let k55 = KernelRelease("6.1.0-55-cloud-amd64")!
    let k56 = KernelRelease("6.1.0-56-cloud-amd64")!

    @Test func kernelRanges() {
        let range = DriverKernelRange(parsing: "6.1..6.2")!
        #expect(range.contains(k55))
        #expect(!range.contains(KernelRelease("6.2.0-1-amd64")!))
        #expect(range.contains(KernelRelease("6.1")!))
        #expect(!range.contains(KernelRelease("6.0.12")!))
        #expect(DriverKernelRange(parsing: "..6.2")?.contains(KernelRelease("5.10.0-30-amd64")!) == true)
        #expect(DriverKernelRange(parsing: "6.1..")?.contains(KernelRelease("6.12.9")!) == true)
        #expect(DriverKernelRange(parsing: "6.2..6.1") == nil)
        #expect(DriverKernelRange(parsing: "6.1") == nil)
        // A release candidate of 6.2 is still below 6.2.
        #expect(DriverKernelRange(parsing: "6.1..6.2")?.contains(KernelRelease("6.2.0-rc3")!) == false)
        #expect(DriverKernelRange(parsing: "6.1..6.2.0")?.contains(KernelRelease("6.2.0-rc3")!) == true)
    }

    @Test func newestSupportingVersionWins() {
        let index = DriverIndex(generation: 1, drivers: [
            driver("1.9"), driver("1.10", kernels: [DriverKernelRange(from: "6.2")]), driver("1.2"),
        ])
        #expect(index.select(kernel: k55, modules: ["rr3740a"])?.driver.version == "1.9")
        #expect(index.select(kernel: KernelRelease("6.5.0")!, modules: ["rr3740a"])?.driver.version == "1.10")
        #expect(index.select(kernel: k55, modules: ["other"]) == nil)
        #expect(index.select(kernel: k55, modules: [])?.driver.version == "1.9")
        #expect(index.select(kernel: k55, modules: ["rr3740a"], name: "nope") == nil)
    }

    @Test func prebuiltForTheExactKernelIsOffered() {
        let ko = DriverArtifact(url: "prebuilt/k/rr3740a.ko", sha256: digest, size: 5)
        let index = DriverIndex(generation: 1, drivers: [driver("2.0", modules: ["rr3740a", "rr-helper"],
                                                                prebuilt: [k55.string: ["rr3740a": ko]])])
        #expect(index.select(kernel: k55, modules: ["rr3740a"])?.prebuilt == ["rr3740a": ko])
        #expect(index.select(kernel: k56, modules: ["rr3740a"])?.prebuilt == nil)
        // Not every wanted module is prebuilt: build from source.
        #expect(index.select(kernel: k55, modules: ["rr3740a", "rr_helper"])?.prebuilt == nil)
        #expect(index.select(kernel: k55, modules: ["rr_helper"])?.driver.version == "2.0", "- and _ are the same module")
    }

    @Test func validation() throws {
        try DriverIndex(generation: 3, drivers: [driver("1.0")]).validate()
        func problem(_ index: DriverIndex) -> String? {
            do {
                try index.validate()
                return nil
            } catch {
                return error.description
            }
        }
        var bad = DriverIndex(generation: 3, drivers: [driver("1.0")])
        bad.schema = 2
        #expect(problem(bad)?.hasPrefix("schema: version 2 is not supported") == true)
        #expect(problem(DriverIndex(generation: 3, drivers: [driver("1.0", name: "../x")])) == "drivers[0].name: '../x' is not a valid driver name")
        #expect(problem(DriverIndex(generation: 3, drivers: [driver("1.0 beta")])) == "drivers[0].version: '1.0 beta' is not a valid version")
        #expect(problem(DriverIndex(generation: 3, drivers: [driver("1.0"), driver("1.0")])) == "drivers[1]: hpt-1.0 is listed twice")
        #expect(problem(DriverIndex(generation: 3, drivers: [driver("1.0", modules: ["a/b"])])) == "drivers[0].modules: 'a/b' is not a valid module name")
        var entry = driver("1.0")
        entry.source.sha256 = "ABC"
        #expect(problem(DriverIndex(generation: 3, drivers: [entry])) == "drivers[0].source.sha256: not 64 lowercase hex digits")
        entry = driver("1.0", prebuilt: ["6.1.0-55-cloud-amd64": ["other": artifact]])
        #expect(problem(DriverIndex(generation: 3, drivers: [entry])) == "drivers[0].prebuilt[6.1.0-55-cloud-amd64]: 'other' is not one of the driver's modules")
        entry = driver("1.0", prebuilt: ["../../x": ["rr3740a": artifact]])
        #expect(problem(DriverIndex(generation: 3, drivers: [entry])) == "drivers[0].prebuilt[../../x]: not a kernel release")
        entry = driver("1.0", kernels: [DriverKernelRange(from: "6.2", before: "6.1")])
        #expect(problem(DriverIndex(generation: 3, drivers: [entry])) == "drivers[0].kernels[0]: empty range: 6.2 is not below 6.1")
        entry = driver("1.0")
        entry.source.url = "https://x/a b"
        #expect(problem(DriverIndex(generation: 3, drivers: [entry]))?.hasPrefix("drivers[0].source.url:") == true)
    }

    @Test func versionsOrderLikePackages() {
        #expect(DriverVersion("1.10")! > DriverVersion("1.9")!)
        #expect(DriverVersion("2.0~rc1")! < DriverVersion("2.0")!)
        #expect(DriverVersion("2.0+deb1")! > DriverVersion("2.0")!)
        #expect(DriverVersion("") == nil && DriverVersion("-1") == nil && DriverVersion("1/2") == nil)
    }
}
