import Foundation
import Glibc
package import KmodguardCore
import KmodguardSystem

/// The scratch tree of one build, laid out like DKMS's so that `MAKE[0]` lines written for DKMS
/// (`M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build`) find their sources:
///
///     WORK/NAME-VERSION-KERNEL/                 $dkms_tree (and the build user's HOME)
///     WORK/NAME-VERSION-KERNEL/NAME/VERSION/build/   $build_dir: a fresh copy of the source
///     WORK/NAME-VERSION-KERNEL.lock             held while building
///     LOGS/NAME-VERSION-KERNEL.log              the full log, kept
///
/// One directory per (source, version, kernel), so builds for two kernels can run side by side.
package struct BuildWorkspace: Sendable {
    package let dkmsTree: String
    package let buildDirectory: String
    package let lockFile: String
    package let log: String

    package init(source: DriverSource, kernel: KernelRelease, workDirectory: String, logDirectory: String) {
        let id = source.name + "-" + source.version + "-" + kernel.string
        dkmsTree = workDirectory + "/" + id
        buildDirectory = dkmsTree + "/" + source.name + "/" + source.version + "/build"
        lockFile = workDirectory + "/" + id + ".lock"
        log = logDirectory + "/" + id + ".log"
    }

    /// Holds the workspace's lock until released (or the process exits).
    package final class Lock: @unchecked Sendable {
        private var descriptor: Int32
        package init(descriptor: Int32) { self.descriptor = descriptor }
        package func release() {
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }
        deinit { release() }
    }

    /// Takes the lock, or `.busy` if another build of the same source and kernel holds it.
    package func lock() throws(BuildFailure) -> Lock {
        if let error = Files.makeDirectories(parentDirectory(lockFile)) { throw .workspace(error) }
        let descriptor = open(lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .workspace(Files.lastError("open", lockFile)) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw .busy(lockFile: lockFile)
        }
        return Lock(descriptor: descriptor)
    }

    /// Replaces the scratch tree by a fresh copy of `source`, owned by `user`, and starts the log
    /// with `header`. Everything the build user needs must be reachable by it.
    package func prepare(copying source: String, user: BuildUser?, logHeader header: String) throws(BuildFailure) {
        let manager = FileManager.default
        if let user {
            // Created by root, maybe under a umask of 077: the build user must get through it.
            _ = chmod(parentDirectory(dkmsTree), 0o755)
            try checkReachable(by: user)
        }
        if manager.fileExists(atPath: dkmsTree) {
            do { try manager.removeItem(atPath: dkmsTree) } catch { throw .workspace(Self.systemError("remove", dkmsTree, error)) }
        }
        if let error = Files.makeDirectories(parentDirectory(buildDirectory)) { throw .workspace(error) }
        do {
            try manager.copyItem(atPath: source, toPath: buildDirectory)
        } catch {
            throw .workspace(Self.systemError("copy " + source + " to", buildDirectory, error))
        }
        if let user { try changeOwner(to: user, manager: manager) }
        if let error = Files.makeDirectories(parentDirectory(log)) { throw .workspace(error) }
        if let error = Files.replaceAtomically(log, with: Array(header.utf8)) { throw .workspace(error) }
    }

    /// Every directory above the workspace must be searchable by the build user.
    package func checkReachable(by user: BuildUser) throws(BuildFailure) {
        var path = ""
        for component in parentDirectory(dkmsTree).split(separator: "/") {
            path += "/" + component
            var info = stat()
            guard stat(path, &info) == 0 else { throw .workspace(Files.lastError("stat", path)) }
            let searchable = info.st_uid == user.uid ? (info.st_mode & S_IXUSR) != 0
                : info.st_gid == user.gid ? (info.st_mode & S_IXGRP) != 0 : (info.st_mode & S_IXOTH) != 0
            if !searchable { throw .workspaceUnreachable(path: dkmsTree, blockedBy: path, uid: user.uid) }
        }
    }

    /// `chown -R user dkmsTree` without following symlinks.
    private func changeOwner(to user: BuildUser, manager: FileManager) throws(BuildFailure) {
        var paths = [dkmsTree]
        var directory = dkmsTree
        for component in buildDirectory.dropFirst(dkmsTree.count + 1).split(separator: "/") {
            directory += "/" + component
            paths.append(directory)
        }
        if let enumerator = manager.enumerator(atPath: buildDirectory) {
            for case let relative as String in enumerator { paths.append(buildDirectory + "/" + relative) }
        }
        for path in paths where lchown(path, user.uid, user.gid) != 0 {
            throw .workspace(Files.lastError("chown", path))
        }
    }

    /// A Foundation error as a `SystemError` with the errno it wraps (0 if none).
    package static func systemError(_ operation: String, _ path: String, _ error: any Error) -> SystemError {
        let nsError = error as NSError
        let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError
        let code = underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying?.code ?? 0) : 0
        return SystemError(operation: operation, path: path, errno: code,
                           message: code != 0 ? Files.errorText(code) : nsError.localizedDescription)
    }
}
