import KmodguardCompletion
import Testing

@Suite struct ShellDeclarationsTests {
    /// What bash 5.2's `declare -p` prints, and what it means.
    @Test(arguments: [
        (#"declare -- A="x\"y\$z\`w\\v""#, "A", ShellValue.scalar("x\"y$z`w\\v")),
        (#"declare -- B=$'l1\nl2'"#, "B", .scalar("l1\nl2")),
        (#"declare -a C=([0]="a" [1]="b c" [2]=$'t\tx' [7]="z")"#, "C", .array([0: "a", 1: "b c", 2: "t\tx", 7: "z"])),
        (#"declare -- E="""#, "E", .scalar("")),
        (#"declare -x G=$'\001\303\251\x41'"#, "G", .scalar("\u{1}éA")),
        (#"declare -a H=()"#, "H", .array([:])),
    ])
    func values(line: String, name: String, value: ShellValue) throws {
        #expect(try ShellDeclarations.parse(line + "\n") == [name: value])
    }

    @Test func severalLinesAndDeclaredButUnset() throws {
        let parsed = try ShellDeclarations.parse("declare -- D\ndeclare -a M=([0]=\"make\")\ndeclare -- P=\"x\"\n")
        #expect(parsed == ["M": .array([0: "make"]), "P": .scalar("x")])
        #expect(parsed["M"]?.first == "make")
        #expect(ShellValue.scalar("s")[0] == "s" && ShellValue.scalar("s")[1] == nil)
        #expect(ShellValue.array([0: "a", 5: "b"]).count == 2)
    }

    @Test(arguments: ["declare", "declare -- ", "declare -A F=([k]=\"v\" )", "declare -- A=\"open", "declare -a C=([x]=\"a\")",
                      "declare -- A=unquoted", "declare -- A=\"x\" junk", "declare -- A=$'\\x'", "foo"])
    func refusesWhatBashDoesNotPrint(text: String) {
        #expect(throws: ShellDeclarationError.self) { try ShellDeclarations.parse(text) }
    }
}
