import CCurl
@testable import kmodguard
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
}
