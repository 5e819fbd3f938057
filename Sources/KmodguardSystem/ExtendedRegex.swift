import CSystem

/// POSIX extended regular expressions, as bash's `[[ $x =~ $re ]]` evaluates DKMS's
/// `BUILD_EXCLUSIVE_KERNEL`, `BUILD_EXCLUSIVE_ARCH` and `PATCH_MATCH` (Swift's Regex is not ERE:
/// bracket expressions and escapes differ). Unanchored, like `=~`.
package enum ExtendedRegex {
    /// Whether `pattern` matches somewhere in `text`. A pattern regcomp rejects matches nothing,
    /// as bash's `=~` is false (status 2) for it, so DKMS would exclude too.
    package static func matches(_ pattern: String, _ text: String) -> Bool {
        var regex = regex_t()
        guard regcomp(&regex, pattern, REG_EXTENDED | REG_NOSUB) == 0 else { return false }
        defer { regfree(&regex) }
        return regexec(&regex, text, 0, nil, 0) == 0
    }
}
