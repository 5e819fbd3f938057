import Glibc

/// Where libcurl's write callback puts a body: memory or a file descriptor, never more than
/// `limit` bytes (a server that lies about, or omits, Content-Length is cut off here).
package final class TransferSink {
    package let limit: Int
    package private(set) var bytes: [UInt8] = []
    package private(set) var count = 0
    package private(set) var exceeded = false
    package private(set) var writeError: Int32 = 0
    private let descriptor: Int32?

    package init(limit: Int, descriptor: Int32? = nil) {
        self.limit = limit
        self.descriptor = descriptor
    }

    /// Forgets what an earlier attempt wrote.
    package func reset() {
        bytes.removeAll(keepingCapacity: true)
        count = 0
        exceeded = false
        writeError = 0
        if let descriptor { _ = ftruncate(descriptor, 0) }
    }

    /// False aborts the transfer.
    package func accept(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard count + chunk.count <= limit else {
            exceeded = true
            return false
        }
        if let descriptor {
            var offset = 0
            while offset < chunk.count {
                let written = pwrite(descriptor, chunk.baseAddress! + offset, chunk.count - offset, off_t(count + offset))
                if written < 0 {
                    if errno == EINTR { continue }
                    writeError = errno
                    return false
                }
                offset += written
            }
        } else {
            bytes.append(contentsOf: chunk)
        }
        count += chunk.count
        return true
    }
}
