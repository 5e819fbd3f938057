import Glibc
import KmodguardSystem

/// Serialises rebuilds of one kernel's image: a second run must not remove the first one's
/// temporary file as "stale", nor rename over an image the first is verifying.
final class InitramfsLock {
    let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock, waiting at most `timeoutSeconds` for another holder (a rebuild takes
    /// seconds to minutes; kernel hooks and the completion service may overlap).
    static func acquire(_ path: String, timeoutSeconds: Int) throws(InitramfsFailure) -> InitramfsLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .system(Files.lastError("open", path)) }
        var waited = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                let error = Files.lastError("flock", path)
                close(fd)
                throw .system(error)
            }
            if waited >= timeoutSeconds * 10 {
                close(fd)
                throw .busy(lock: path)
            }
            usleep(100_000)
            waited += 1
        }
        return InitramfsLock(path: path, fd: fd)
    }

    func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}
