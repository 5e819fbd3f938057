package import CCurl
import KmodguardCore
import KmodguardSystem

/// Initialises libcurl once per process (curl_global_init is not thread-safe; a global `let`
/// is initialised exactly once).
private let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

/// libcurl's write callback: hands each chunk to the `TransferSink` behind `context`.
private let writeToSink: kg_curl_write_callback = { data, size, count, context in
    guard let context else { return 0 }
    let sink = Unmanaged<TransferSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard length > 0 else { return 0 }
    guard let data else { return 0 }
    return sink.accept(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

/// Downloads over libcurl: certificate and host verification always on, connect, low-speed and
/// total timeouts, retries with exponential backoff for transient failures, a hard size cap, and
/// only `https://`, `http://` and `file://` URLs (redirects only to http(s)).
package struct Downloader: Sendable {
    package var policy: DownloadPolicy

    package init(policy: DownloadPolicy = DownloadPolicy()) { self.policy = policy }

    /// The body of `url`, at most `limit` bytes.
    package func fetch(_ url: String, limit: Int) throws(DatabaseError) -> [UInt8] {
        let sink = TransferSink(limit: limit)
        try transfer(url, into: sink)
        return sink.bytes
    }

    /// Writes the body of `url` to the new file `path` (created exclusively, mode 0644), at most
    /// `limit` bytes. On failure the file is removed.
    package func download(_ url: String, to path: String, limit: Int) throws(DatabaseError) {
        let file: OpenFile
        do {
            file = try OpenFile.create(path, mode: 0o644)
        } catch {
            throw .system(error)
        }
        let sink = TransferSink(limit: limit, file: file)
        do {
            try transfer(url, into: sink)
        } catch {
            file.close()
            FileNames.removeIgnoringErrors(path)
            throw error
        }
        do {
            try file.sync()
        } catch {
            file.close()
            FileNames.removeIgnoringErrors(path)
            // The last step of writing the body: reported as the write it is.
            throw .system(SystemError(operation: "write", path: path, errno: error.errno, message: error.message))
        }
        file.close()
    }

    /// Attempts the transfer until it succeeds, fails for good, or the attempts run out.
    private func transfer(_ url: String, into sink: TransferSink) throws(DatabaseError) {
        var attempt = 1
        var delay = policy.backoffSeconds
        while true {
            sink.reset()
            guard let failure = perform(url, into: sink) else { return }
            if !failure.isTransient || attempt >= policy.attempts {
                throw .transfer(url: url, failure, attempts: attempt)
            }
            if delay > 0 { MonotonicClock.sleep(milliseconds: Int(delay * 1000)) }
            delay *= 2
            attempt += 1
        }
    }

    /// One attempt; nil on success.
    private func perform(_ url: String, into sink: TransferSink) -> TransferFailure? {
        guard curlReady, let handle = curl_easy_init() else { return .curl(code: 2, message: "libcurl failed to initialise") }
        defer { curl_easy_cleanup(handle) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        var setupFailure: CURLcode = CURLE_OK
        func set(_ option: CURLoption, _ value: Int) {
            let code = kg_curl_setopt_long(handle, option, value)
            if code != CURLE_OK && setupFailure == CURLE_OK { setupFailure = code }
        }
        func set(_ option: CURLoption, _ value: String) {
            let code = kg_curl_setopt_string(handle, option, value)
            if code != CURLE_OK && setupFailure == CURLE_OK { setupFailure = code }
        }
        set(CURLOPT_URL, url)
        set(CURLOPT_PROTOCOLS_STR, "https,http,file")
        set(CURLOPT_REDIR_PROTOCOLS_STR, "https,http")
        set(CURLOPT_FOLLOWLOCATION, 1)
        set(CURLOPT_MAXREDIRS, 5)
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = policy.caFile { set(CURLOPT_CAINFO, caFile) }
        set(CURLOPT_CONNECTTIMEOUT_MS, Int(policy.connectTimeoutSeconds * 1000))
        set(CURLOPT_TIMEOUT_MS, Int(policy.totalTimeoutSeconds * 1000))
        // A server that trickles bytes (or stalls mid-body) is cut off instead of holding each
        // attempt for the whole total timeout.
        set(CURLOPT_LOW_SPEED_LIMIT, policy.lowSpeedBytesPerSecond)
        set(CURLOPT_LOW_SPEED_TIME, policy.lowSpeedSeconds)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_FAILONERROR, 1)
        set(CURLOPT_MAXFILESIZE_LARGE, sink.limit)
        set(CURLOPT_USERAGENT, policy.userAgent)
        if kg_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer) != CURLE_OK
            || kg_curl_setopt_write_function(handle, writeToSink) != CURLE_OK
            || kg_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()) != CURLE_OK {
            setupFailure = CURLE_FAILED_INIT
        }
        if setupFailure != CURLE_OK {
            return .curl(code: setupFailure.rawValue, message: "setting up the transfer: " + String(cString: curl_easy_strerror(setupFailure)))
        }

        let code = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        if code == CURLE_OK { return nil }
        var status = 0
        _ = kg_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var redirects = 0
        _ = kg_curl_getinfo_long(handle, CURLINFO_REDIRECT_COUNT, &redirects)
        // After a redirect, the URL libcurl stopped at: the redirect's target.
        var effective: UnsafePointer<CChar>?
        _ = kg_curl_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective)
        let detail = String(cString: errorBuffer)
        let message = "curl " + String(code.rawValue) + ": " + (detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        return Self.classify(code, status: status, sink: sink, message: message, redirects: redirects,
                             effectiveURL: effective.map { String(cString: $0) })
    }

    /// `redirects`: how many redirects libcurl followed; `effectiveURL`: where it stopped.
    package static func classify(_ code: CURLcode, status: Int, sink: TransferSink, message: String,
                         redirects: Int = 0, effectiveURL: String? = nil) -> TransferFailure {
        if sink.exceeded || code == CURLE_FILESIZE_EXCEEDED { return .tooLarge(limit: sink.limit) }
        if let error = sink.writeError { return .localWrite(error.message) }
        switch code {
        case CURLE_HTTP_RETURNED_ERROR: return .httpStatus(status)
        case CURLE_TOO_MANY_REDIRECTS: return .redirectLoop(message)
        case CURLE_UNSUPPORTED_PROTOCOL where redirects > 0 && !message.contains("HTTP/0.9"):
            // The URL was fine; the server sent libcurl to a scheme redirects may not use.
            return .redirectRefused(to: effectiveURL ?? "?", message: message)
        case CURLE_FILE_COULDNT_READ_FILE: return .fileMissing(message)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .refused(message)
        case CURLE_OPERATION_TIMEDOUT: return .timedOut(message)
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_GOT_NOTHING: return .truncated(message)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM:
            return .tls(message)
        case CURLE_UNSUPPORTED_PROTOCOL where message.contains("HTTP/0.9"):
            // libcurl reports a reply without an HTTP status line under the same code as an
            // unknown URL scheme; the URL was fine, the server was not.
            return .notHTTP(message)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: return .unsupportedURL(message)
        default: return .curl(code: code.rawValue, message: message)
        }
    }
}
