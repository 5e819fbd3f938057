package import KmodguardCore
package import KmodguardSystem
package import Logging

/// One kmodguard run at a time changes state.json and grubenv: the completion service, the
/// kernel hooks (`complete --hook`, run by dpkg while the service may be building), the retry
/// timer and `kernel-removed`. Without it two runs build the same driver and the last to save
/// state.json wins. Held until the run has written everything; never while waiting for dpkg.
package enum StateLock {
    /// A build plus an initramfs rebuild takes minutes; the service's own limit is 3 hours.
    package static let timeoutSeconds = 3 * 3600

    package static func path(root: SystemRoot) -> String { root.stateDirectory + "/lock" }

    package static func acquire(root: SystemRoot, logger: Logger, timeoutSeconds: Int = timeoutSeconds) throws(CommandError) -> FileLock {
        if let error = Files.makeDirectories(root.stateDirectory) { throw .system(error) }
        let lockPath = path(root: root)
        switch FileLock.acquire(lockPath, timeoutSeconds: timeoutSeconds, waiting: { holder in
            logger.notice("waiting for another kmodguard run\(holder > 0 ? " (pid \(holder))" : "") to finish (lock \(lockPath))")
        }) {
        case .success(let lock): return lock
        case .failure(let error): throw .busy(error)
        }
    }
}
