/// A `kmodguard build` failure outside the builder itself (source, --out), printed as `Error: …`.
struct BuildCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
