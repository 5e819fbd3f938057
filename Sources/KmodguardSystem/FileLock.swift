import CSystem
public import KmodguardCore

/// An exclusive `flock(2)` on a file, held until `release()` or the end of the process. The
/// completion service, the kernel hooks and initramfs rebuilds serialise through these; the
/// holder writes its pid into the file so a waiter can say whom it waits for.
public final class FileLock {
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock, creating the file; waits at most `timeoutSeconds` for another holder.
    /// `waiting` is called once, with the holder's pid (0 when unknown), if the lock is busy.
    public static func acquire(_ path: String, timeoutSeconds: Int, waiting: (Int32) -> Void = { _ in })
        -> Result<FileLock, FileLockError> {
        let fd = kg_open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return .failure(.system(Files.lastError("open", path))) }
        let waited = poll(timeoutSeconds: timeoutSeconds, everyMilliseconds: 100, waiting: waiting) { () -> Attempt<SystemError> in
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return .done }
            let code = kg_errno()
            guard code == EWOULDBLOCK || code == EINTR else { return .failed(Files.lastError("flock", path)) }
            return .busy(holder: recordedHolder(path))
        }
        switch waited {
        case .done: break
        case .failed(let error):
            close(fd)
            return .failure(.system(error))
        case .timedOut(let holder):
            close(fd)
            return .failure(.timedOut(path: path, holder: holder, seconds: timeoutSeconds))
        }
        // Informational only: the flock is the lock, whatever the file says.
        if ftruncate(fd, 0) == 0 {
            _ = Files.writeAll(fd, Array((String(getpid()) + "\n").utf8), path: path, using: LiveFileSyscalls())
        }
        return .success(FileLock(path: path, fd: fd))
    }

    public func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }

    /// The pid the holder wrote into `path`, 0 when there is none.
    static func recordedHolder(_ path: String) -> Int32 {
        guard case .success(let bytes) = Files.read(path, limit: 32) else { return 0 }
        let text = String(decoding: bytes, as: UTF8.self)
        var digits = ""
        for character in text {
            guard character >= "0" && character <= "9" else { break }
            digits.append(character)
        }
        return Int32(digits) ?? 0
    }

    /// The pid holding a POSIX (`fcntl`) write lock on `path`, as dpkg holds
    /// `/var/lib/dpkg/lock` while it runs; 0 when nobody does or the file does not exist.
    public static func posixLockHolder(_ path: String) -> Result<Int32, SystemError> {
        let fd = kg_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0)
        guard fd >= 0 else {
            if kg_errno() == ENOENT { return .success(0) }
            return .failure(Files.lastError("open", path))
        }
        defer { close(fd) }
        let holder = kg_posix_lock_holder(fd)
        guard holder >= 0 else { return .failure(Files.lastError("fcntl F_GETLK", path)) }
        return .success(holder)
    }

    /// Waits until nobody holds a POSIX write lock on any of `paths`, at most `timeoutSeconds`;
    /// returns 0 then, else the pid still holding one. `waiting` is called once if one is held.
    public static func waitForPosixLocks(_ paths: [String], timeoutSeconds: Int, waiting: (Int32) -> Void = { _ in }) -> Int32 {
        let waited = poll(timeoutSeconds: timeoutSeconds, everyMilliseconds: 1000, waiting: waiting) { () -> Attempt<Never> in
            for path in paths {
                if case .success(let pid) = posixLockHolder(path), pid > 0 { return .busy(holder: pid) }
            }
            return .done
        }
        if case .timedOut(let holder) = waited { return holder }
        return 0
    }

    /// One look at a lock while waiting for it.
    enum Attempt<Failure: Error> {
        case done
        /// Held by `holder` (0 when unknown).
        case busy(holder: Int32)
        case failed(Failure)
    }

    enum Waited<Failure: Error> {
        case done
        case timedOut(holder: Int32)
        case failed(Failure)
    }

    /// The one wait loop for both kinds of lock: `attempt` until it is done or fails, every
    /// `everyMilliseconds`, for at most `timeoutSeconds` (monotonic); `waiting` is told once, with
    /// the first holder seen.
    static func poll<Failure: Error>(timeoutSeconds: Int, everyMilliseconds interval: Int32, waiting: (Int32) -> Void,
                                     _ attempt: () -> Attempt<Failure>) -> Waited<Failure> {
        let start = kg_monotonic_ms()
        var told = false
        while true {
            switch attempt() {
            case .done: return .done
            case .failed(let error): return .failed(error)
            case .busy(let holder):
                if !told {
                    waiting(holder)
                    told = true
                }
                if kg_monotonic_ms() - start >= Int64(timeoutSeconds) * 1000 { return .timedOut(holder: holder) }
                kg_sleep_ms(interval)
            }
        }
    }
}

/// Why a `FileLock` was not taken.
public enum FileLockError: Error, Equatable, Sendable, CustomStringConvertible {
    case system(SystemError)
    /// Another process held the lock for the whole wait; `holder` is its recorded pid, or 0.
    case timedOut(path: String, holder: Int32, seconds: Int)

    public var description: String {
        switch self {
        case .system(let error): return error.description
        case .timedOut(let path, let holder, let seconds):
            return path + " is still locked after " + String(seconds) + " s"
                + (holder > 0 ? " (held by pid " + String(holder) + ")" : "")
        }
    }
}
