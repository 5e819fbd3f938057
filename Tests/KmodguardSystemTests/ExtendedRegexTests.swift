import KmodguardSystem
import Testing

/// POSIX EREs as bash's `=~` matches them (DKMS's BUILD_EXCLUSIVE_* and PATCH_MATCH).
@Suite struct ExtendedRegexTests {
    @Test(arguments: [
        (#"^6\.1\."#, "6.1.0-56-cloud-amd64", true),
        (#"^5\.(4|10)\."#, "6.1.0-56-cloud-amd64", false),
        ("(cloud|rt)-amd64$", "6.1.0-56-cloud-amd64", true),
        ("[[:digit:]]+-cloud", "6.1.0-56-cloud-amd64", true),
        // Unanchored, like =~.
        ("cloud", "6.1.0-56-cloud-amd64", true),
        ("x86_64|aarch64", "x86_64", true),
        // An invalid expression matches nothing (bash's =~ is false for it, DKMS excludes).
        ("(", "(", false),
    ])
    func matchesLikeBash(pattern: String, text: String, expected: Bool) {
        #expect(ExtendedRegex.matches(pattern, text) == expected)
    }
}
