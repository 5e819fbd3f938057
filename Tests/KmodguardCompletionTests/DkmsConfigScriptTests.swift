import KmodguardCompletion
import Testing

@Suite struct DkmsConfigScriptTests {
    @Test func scriptSetsDkmsVariablesUnsetsTheConfOnesAndPrintsDeclarations() {
        let script = DkmsConfigScript.script(configFile: "/usr/src/it's-1.0/dkms.conf",
                                             variables: [("kernelver", "6.1.0-57-cloud-amd64"), ("module", "drv")])
        let lines = script.split(separator: "\n").map(String.init)
        #expect(lines.first == "kernelver='6.1.0-57-cloud-amd64'")
        #expect(lines.contains("_conf='/usr/src/it'\\''s-1.0/dkms.conf'"))
        #expect(lines.contains("for _v in $dkms_conf_variables; do unset \"$_v\"; done"))
        #expect(script.contains("declare -p \"$_v\""))
        #expect(DkmsConfig.variableNames.count == 40)
    }

    @Test(arguments: [
        ("noise\n--- kmodguard: dkms.conf variables ---\ndeclare -- A=\"1\"\n", "declare -- A=\"1\"\n"),
        ("--- kmodguard: dkms.conf variables ---\nfake\n--- kmodguard: dkms.conf variables ---\nreal", "real"),
    ])
    func declarationsFollowTheLastMarker(output: String, expected: String) {
        #expect(DkmsConfigScript.declarations(inOutput: output) == expected)
    }

    @Test func noMarkerNoDeclarations() {
        #expect(DkmsConfigScript.declarations(inOutput: "bash: dkms.conf: Permission denied\n") == nil)
    }
}
