/// The bash program that sources a dkms.conf the way DKMS 3.0.10's `read_conf` does and prints
/// the result as `declare -p` (read back with `ShellDeclarations`, applied by `DkmsConfig.read`):
///
/// 1. DKMS's own variables are set (`kernelver`, `arch`, `kernel_source_dir`, `kernel_config`,
///    `dkms_tree`, `source_tree`, `install_tree`, `tmp_location`, `module`, `module_version`),
///    every dkms.conf variable is unset;
/// 2. as `safe_source`: in a subshell, the file is sourced (its stdout dropped) and each element
///    of each dkms.conf variable is echoed as `NAME[i]="value"`;
/// 3. that text is evaluated again in the outer shell, as DKMS sources its temporary file (so a
///    value is expanded twice, as under DKMS), and `declare -p` prints the variables.
public enum DkmsConfigScript {
    /// The line before the declarations: what the dkms.conf printed comes before it.
    public static let marker = "--- kmodguard: dkms.conf variables ---"

    /// The declarations after the last marker line of the script's output.
    public static func declarations(inOutput output: String) -> String? {
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        guard let index = lines.lastIndex(where: { $0 == marker }) else { return nil }
        lines.removeFirst(index + 1)
        return lines.joined(separator: "\n")
    }

    public static func script(configFile: String, variables: [(String, String)]) -> String {
        let marker = quoted(Self.marker)
        var lines = variables.map { $0.0 + "=" + quoted($0.1) }
        let names = DkmsConfig.variableNames.joined(separator: " ")
        lines.append("dkms_conf_variables=" + quoted(names))
        lines.append("for _v in $dkms_conf_variables; do unset \"$_v\"; done")
        lines.append("_conf=" + quoted(configFile))
        lines.append(#"""
        _out=$(
            . "$_conf" >/dev/null
            for _export_env in $dkms_conf_variables; do
                for _i in $(eval echo \${!$_export_env[@]}); do
                    eval echo '$_export_env[$_i]=\"${'$_export_env'[$_i]}\"'
                done
            done
        )
        eval "$_out" >/dev/null
        printf '\n%s\n' \#(marker)
        for _v in $dkms_conf_variables; do
            declare -p "$_v" 2>/dev/null
        done
        exit 0
        """#)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `value` as one single-quoted shell word.
    public static func quoted(_ value: String) -> String {
        var result = "'"
        for character in value {
            if character == "'" { result += "'\\''" } else { result.append(character) }
        }
        return result + "'"
    }
}
