/// Why a guarded module did not load for a kernel.
public enum ModuleLoadFailure: Equatable, Sendable {
    /// No module (or alias) by that name in the kernel's module tree.
    case notFound
    /// Built for another kernel: the module's vermagic and the kernel's.
    case vermagicMismatch(module: String, kernel: String)
    /// The kernel refused it for unresolved symbols (`init_module` ENOENT).
    case unknownSymbol
    /// Module signature rejected (EKEYREJECTED).
    case signatureRejected
    /// Its file or a dependency's is missing or unreadable.
    case missingFile(String)
    /// Any other error from libkmod or the kernel.
    case other(errno: Errno, message: String)

    /// The short reason stored in grubenv and logs.
    public var summary: String {
        switch self {
        case .notFound: return "not found"
        case .vermagicMismatch: return "vermagic mismatch"
        case .unknownSymbol: return "unknown symbol"
        case .signatureRejected: return "signature rejected"
        case .missingFile: return "module file missing"
        case .other(let errno, _): return "load error " + String(errno.rawValue)
        }
    }

    /// The full reason for logs.
    public var detail: String {
        switch self {
        case .notFound: return "not found"
        case .vermagicMismatch(let module, let kernel):
            return "vermagic mismatch: module has '" + module + "', kernel expects '" + kernel + "'"
        case .unknownSymbol: return "unknown symbol (built against another kernel's symbols)"
        case .signatureRejected: return "signature rejected by the kernel's keyring"
        case .missingFile(let path): return "module file missing: " + path
        case .other(let errno, let message): return message + " (" + errno.description + ")"
        }
    }
}
