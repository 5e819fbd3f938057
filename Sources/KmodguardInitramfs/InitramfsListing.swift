/// The files of an image, parsed from `lsinitramfs` (one path per line) or `lsinitrd` (an
/// `ls -l`-style line per file after a header): the path is the last field, before any ` -> `.
package struct InitramfsListing: Sendable, Equatable {
    /// Paths inside the image, without a leading `./` or `/`.
    package let paths: [String]

    package init(_ output: String) {
        var paths: [String] = []
        for rawLine in output.split(separator: "\n", omittingEmptySubsequences: true) {
            var line = Substring(rawLine)
            if let arrow = line.range(of: " -> ") { line = line[..<arrow.lowerBound] }
            guard var field = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last else { continue }
            while field.hasPrefix("./") { field = field.dropFirst(2) }
            while field.hasPrefix("/") { field = field.dropFirst() }
            if !field.isEmpty && field != "." { paths.append(String(field)) }
        }
        self.paths = paths
    }

    /// The image's files of `module` for `kernel`, as paths relative to the kernel's module
    /// directory (`updates/kmodguard/x.ko`) paired with the full path in the image. Images keep
    /// modules under `lib/modules/K/` or, merged-/usr, `usr/lib/modules/K/`.
    package func moduleFiles(_ module: String, kernel: String) -> [(relative: String, path: String)] {
        let wanted = InitramfsModuleName.normalized(module)
        let marker = "lib/modules/" + kernel + "/"
        var found: [(relative: String, path: String)] = []
        for path in paths {
            guard InitramfsModuleName.ofFile(path) == wanted, let range = path.range(of: marker) else { continue }
            let before = path[..<range.lowerBound]
            guard before.isEmpty || before == "usr/" else { continue }
            found.append((String(path[range.upperBound...]), path))
        }
        return found
    }
}
