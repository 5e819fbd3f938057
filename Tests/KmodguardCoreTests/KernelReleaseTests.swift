import KmodguardCore
import Testing

@Suite struct KernelReleaseTests {
    func release(_ text: String) -> KernelRelease {
        guard let value = KernelRelease(text) else {
            Issue.record("'\(text)' should parse")
            return KernelRelease("invalid")!
        }
        return value
    }

    @Test(arguments: [
        ("6.1.0-9-amd64", "6.1.0-10-amd64"),
        ("6.1.0-9-cloud-amd64", "6.1.0-10-cloud-amd64"),
        ("6.1.0-55-cloud-amd64", "6.1.0-56-cloud-amd64"),
        ("6.2.0-rc3", "6.2.0"),
        ("6.2.0-rc3", "6.2.0-rc10"),
        ("6.1.0-9", "6.1.0-9+deb12u1"),
        ("6.1.0-9+deb12u1", "6.1.0-9+deb12u2"),
        ("5.10.0-28-amd64", "6.1.0-1-amd64"),
        ("6.1.0", "6.1.1"),
        ("6.9.0", "6.10.0"),
        ("6.1.0-10-amd64", "6.1.0-10-cloud-amd64"),
    ])
    func ordering(older: String, newer: String) {
        #expect(release(older) < release(newer))
        #expect(!(release(newer) < release(older)))
        #expect(release(older) != release(newer))
    }

    @Test func sortingIsNumeric() {
        let sorted = ["6.1.0-10-amd64", "6.1.0-9-amd64", "6.1.0-100-amd64", "6.1.0-11-amd64"].map(release).sorted()
        #expect(sorted.map(\.string) == ["6.1.0-9-amd64", "6.1.0-10-amd64", "6.1.0-11-amd64", "6.1.0-100-amd64"])
    }

    @Test func equalReleasesCompareEqual() {
        #expect(!(release("6.1.0-9-amd64") < release("6.1.0-9-amd64")))
        #expect(!(release("6.1.0-09") < release("6.1.0-9")) && !(release("6.1.0-9") < release("6.1.0-09")))
    }

    @Test(arguments: ["", ".", "..", "6.1/../../etc", "6.1 0", "a\nb", "6.1\t", String(repeating: "9", count: 65)])
    func rejectsWhatCannotBeADirectoryName(_ text: String) {
        #expect(KernelRelease(text) == nil)
    }
}
