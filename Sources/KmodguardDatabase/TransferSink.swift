package import KmodguardCore
package import KmodguardSystem

/// Where libcurl's write callback puts a body: memory or an open file, never more than
/// `limit` bytes (a server that lies about, or omits, Content-Length is cut off here).
package final class TransferSink {
    package let limit: Int
    package private(set) var bytes: [UInt8] = []
    package private(set) var count = 0
    package private(set) var exceeded = false
    /// Why writing to the file failed, which aborted the transfer.
    package private(set) var writeError: SystemError?
    private let file: OpenFile?

    package init(limit: Int, file: OpenFile? = nil) {
        self.limit = limit
        self.file = file
    }

    /// Forgets what an earlier attempt wrote.
    package func reset() {
        bytes.removeAll(keepingCapacity: true)
        count = 0
        exceeded = false
        writeError = nil
        if let file { try? file.truncate(to: 0) }
    }

    /// False aborts the transfer.
    package func accept(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard count + chunk.count <= limit else {
            exceeded = true
            return false
        }
        if let file {
            do {
                try file.write(chunk, at: count)
            } catch {
                writeError = error
                return false
            }
        } else {
            bytes.append(contentsOf: chunk)
        }
        count += chunk.count
        return true
    }
}
