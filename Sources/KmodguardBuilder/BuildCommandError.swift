/// A `kmodguard build` failure outside the builder itself (source, --out), printed as `Error: …`.
package struct BuildCommandError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
