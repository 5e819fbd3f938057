import CCurl
@testable import KmodguardDatabase
import Testing

/// How libcurl's result codes become messages a person can act on.
@Suite struct TransferFailureTests {
    @Test func replyWithoutStatusLineIsNotHTTPAndRetried() {
        let failure = Downloader.classify(CURLE_UNSUPPORTED_PROTOCOL, status: 0, sink: TransferSink(limit: 16),
                                          message: "curl 1: Received HTTP/0.9 when not allowed")
        #expect(failure == .notHTTP("curl 1: Received HTTP/0.9 when not allowed"))
        #expect(failure.isTransient)
        #expect(failure.description.contains("not HTTP"))
        #expect(!failure.description.contains("unsupported URL"))
    }

    @Test func unknownSchemeIsStillAnUnsupportedURL() {
        let failure = Downloader.classify(CURLE_UNSUPPORTED_PROTOCOL, status: 0, sink: TransferSink(limit: 16),
                                          message: "curl 1: Protocol \"gopher\" not supported")
        #expect(failure == .unsupportedURL("curl 1: Protocol \"gopher\" not supported"))
        #expect(!failure.isTransient)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let code: CURLcode
        let status: Int
        let redirects: Int
        let message: String
        let expected: TransferFailure
        let transient: Bool
        /// Words the description must contain.
        let says: [String]
        var testDescription: String { "curl \(code.rawValue), \(redirects) redirects: \(expected)" }
    }

    static let cases: [Case] = [
        Case(code: CURLE_UNSUPPORTED_PROTOCOL, status: 302, redirects: 1, message: "curl 1: Protocol \"file\" not supported or disabled in libcurl",
             expected: .redirectRefused(to: "file:///etc/hostname", message: "curl 1: Protocol \"file\" not supported or disabled in libcurl"),
             transient: false, says: ["refused a redirect to file:///etc/hostname", "redirects may only go to https:// or http://"]),
        Case(code: CURLE_TOO_MANY_REDIRECTS, status: 302, redirects: 5, message: "curl 47: Maximum (5) redirects followed",
             expected: .redirectLoop("curl 47: Maximum (5) redirects followed"), transient: false, says: ["redirect loop"]),
        Case(code: CURLE_HTTP_RETURNED_ERROR, status: 500, redirects: 0, message: "curl 22: The requested URL returned error: 500",
             expected: .httpStatus(500), transient: true, says: ["HTTP status 500"]),
        Case(code: CURLE_HTTP_RETURNED_ERROR, status: 404, redirects: 1, message: "curl 22: The requested URL returned error: 404",
             expected: .httpStatus(404), transient: false, says: ["HTTP status 404"]),
        Case(code: CURLE_COULDNT_RESOLVE_HOST, status: 0, redirects: 0, message: "curl 6: Could not resolve host: db.invalid",
             expected: .refused("curl 6: Could not resolve host: db.invalid"), transient: true, says: ["connection failed"]),
        Case(code: CURLE_OPERATION_TIMEDOUT, status: 200, redirects: 0,
             message: "curl 28: Operation too slow. Less than 1024 bytes/sec transferred the last 60 seconds",
             expected: .timedOut("curl 28: Operation too slow. Less than 1024 bytes/sec transferred the last 60 seconds"),
             transient: true, says: ["timed out", "too slow"]),
        Case(code: CURLE_RECV_ERROR, status: 200, redirects: 0, message: "curl 56: Connection reset by peer",
             expected: .truncated("curl 56: Connection reset by peer"), transient: true, says: ["reset"]),
    ]

    @Test(arguments: cases) func classification(_ item: Case) {
        let failure = Downloader.classify(item.code, status: item.status, sink: TransferSink(limit: 16), message: item.message,
                                          redirects: item.redirects, effectiveURL: "file:///etc/hostname")
        #expect(failure == item.expected)
        #expect(failure.isTransient == item.transient)
        for word in item.says { #expect(failure.description.contains(word), "\(failure.description)") }
    }

    /// Which refusals `complete` retries on its next run (transient downloads only) and which it
    /// remembers until something changes.
    @Test(arguments: [
        (DatabaseError.transfer(url: "u", .httpStatus(500), attempts: 4), true),
        (.transfer(url: "u", .timedOut("curl 28"), attempts: 4), true),
        (.transfer(url: "u", .refused("curl 7: Connection refused"), attempts: 4), true),
        (.transfer(url: "u", .httpStatus(404), attempts: 1), false),
        (.transfer(url: "u", .tls("curl 60"), attempts: 1), false),
        (.transfer(url: "u", .redirectLoop("curl 47"), attempts: 1), false),
        (.transfer(url: "u", .redirectRefused(to: "file:///x", message: "curl 1"), attempts: 1), false),
        (.signatureMissing(url: "u", .httpStatus(404)), false),
        (.badSignature(url: "u", keyID: "k"), false),
        (.checksum(url: "u", expected: "a", actual: "b"), false),
        (.size(url: "u", expected: 1, actual: 2), false),
        (.vermagic(url: "u", module: "m", found: "f", expected: "e"), false),
        (.replay(url: "u", generation: 1, accepted: 2, stateFile: "s"), false),
        (.noDriver(url: "u", kernel: "k", modules: [], offered: []), false),
    ])
    func databaseErrorTransience(_ error: DatabaseError, transient: Bool) {
        #expect(error.isTransient == transient, "\(error)")
    }
}
