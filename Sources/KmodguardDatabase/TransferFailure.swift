/// How one download failed, in words a person can act on.
package enum TransferFailure: Equatable, Sendable, CustomStringConvertible {
    /// The server answered with an HTTP error status.
    case httpStatus(Int)
    /// A `file://` URL naming no readable file.
    case fileMissing(String)
    case refused(String)
    case timedOut(String)
    /// The connection closed before the announced body was complete.
    case truncated(String)
    /// More bytes than allowed (the size the index declares, or the index/signature cap).
    case tooLarge(limit: Int)
    /// Certificate or handshake problems: never retried, never ignored.
    case tls(String)
    /// The local file could not be written (disk full, …).
    case localWrite(String)
    case unsupportedURL(String)
    /// The server's reply is not HTTP (no status line): a relay or a wrong port.
    case notHTTP(String)
    /// The server redirected to a URL whose scheme redirects may not use (only https and http).
    case redirectRefused(to: String, message: String)
    /// More redirects than allowed: a loop, or a chain no server needs. Never transient.
    case redirectLoop(String)
    /// Any other libcurl error, with its code.
    case curl(code: UInt32, message: String)

    /// Nothing there to fetch (HTTP 404/410, missing file).
    package var isNotFound: Bool {
        switch self {
        case .httpStatus(let status): return status == 404 || status == 410
        case .fileMissing: return true
        default: return false
        }
    }

    /// Worth another attempt: the server or the network may recover; a 4xx, a TLS failure or
    /// an oversize body will not.
    package var isTransient: Bool {
        switch self {
        case .httpStatus(let status): return status >= 500 || status == 408 || status == 429
        case .refused, .timedOut, .truncated, .notHTTP: return true
        case .curl: return true
        case .fileMissing, .tooLarge, .tls, .localWrite, .unsupportedURL, .redirectRefused, .redirectLoop: return false
        }
    }

    package var description: String {
        switch self {
        case .httpStatus(let status): return "HTTP status " + String(status)
        case .fileMissing(let message): return "no such file (" + message + ")"
        case .refused(let message): return "connection failed (" + message + ")"
        case .timedOut(let message): return "timed out (" + message + ")"
        case .truncated(let message): return "body truncated (" + message + ")"
        case .tooLarge(let limit): return "larger than the " + String(limit) + "-byte limit"
        case .tls(let message): return "TLS verification failed (" + message + ")"
        case .localWrite(let message): return "cannot write the download (" + message + ")"
        case .unsupportedURL(let message): return "unsupported URL (" + message + "; use https://, http:// or file://)"
        case .notHTTP(let message): return "the server's reply is not HTTP (" + message + "; is the URL's port an HTTP server?)"
        case .redirectRefused(let target, let message):
            return "refused a redirect to " + target + " (" + message + "; redirects may only go to https:// or http://)"
        case .redirectLoop(let message): return "too many redirects, a redirect loop? (" + message + ")"
        case .curl(let code, let message): return "curl error " + String(code) + " (" + message + ")"
        }
    }
}
