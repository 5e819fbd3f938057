package import KmodguardCore
package import KmodguardSystem

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
        private var file: OpenFile?
        package init(file: OpenFile) { self.file = file }
        package func release() {
            file?.close()
            file = nil
        }
        deinit { release() }
    }

    /// Takes the lock, or `.busy` if another build of the same source and kernel holds it.
    package func lock() throws(BuildFailure) -> Lock {
        if let error = Files.makeDirectories(parentDirectory(lockFile)) { throw .workspace(error) }
        let file: OpenFile
        do {
            file = try OpenFile.open(lockFile, .readWrite, options: .create, mode: 0o600)
        } catch {
            throw .workspace(error)
        }
        guard (try? file.lockExclusivelyIfFree()) == true else {
            file.close()
            throw .busy(lockFile: lockFile)
        }
        return Lock(file: file)
    }

    /// Replaces the scratch tree by a fresh copy of `source`, owned by `user`, and starts the log
    /// with `header`. Everything the build user needs must be reachable by it.
    package func prepare(copying source: String, user: BuildUser?, logHeader header: String) throws(BuildFailure) {
        if let user {
            // Created by root, maybe under a umask of 077: the build user must get through it.
            try? FileAccess.setPermissions(parentDirectory(dkmsTree), 0o755)
            try checkReachable(by: user)
        }
        if Files.exists(dkmsTree) {
            do {
                try DirectoryTree.removeRecursively(dkmsTree)
            } catch {
                throw .workspace(Self.reported("remove", dkmsTree, error))
            }
        }
        if let error = Files.makeDirectories(parentDirectory(buildDirectory)) { throw .workspace(error) }
        do {
            try DirectoryTree.copy(source, to: buildDirectory)
        } catch {
            throw .workspace(Self.reported("copy " + source + " to", buildDirectory, error))
        }
        if let user { try changeOwner(to: user) }
        if let error = Files.makeDirectories(parentDirectory(log)) { throw .workspace(error) }
        if let error = Files.replaceAtomically(log, with: Array(header.utf8)) { throw .workspace(error) }
    }

    /// Every directory above the workspace must be searchable by the build user.
    package func checkReachable(by user: BuildUser) throws(BuildFailure) {
        var path = ""
        for component in parentDirectory(dkmsTree).split(separator: "/") {
            path += "/" + component
            let info: FileStatus
            do {
                info = try FileStatus.of(path, followingSymlinks: true)
            } catch {
                throw .workspace(error)
            }
            if !info.executable(byUser: user.uid, group: user.gid) {
                throw .workspaceUnreachable(path: dkmsTree, blockedBy: path, uid: user.uid)
            }
        }
    }

    /// `chown -R user dkmsTree` without following symlinks.
    private func changeOwner(to user: BuildUser) throws(BuildFailure) {
        var paths = [dkmsTree]
        var directory = dkmsTree
        for component in buildDirectory.dropFirst(dkmsTree.count + 1).split(separator: "/") {
            directory += "/" + component
            paths.append(directory)
        }
        do {
            paths += try DirectoryTree.walk(buildDirectory).map { buildDirectory + "/" + $0 }
            for path in paths { try FileAccess.setOwner(path, user: user.uid, group: user.gid) }
        } catch {
            throw .workspace(error)
        }
    }

    /// A step's error reported as the whole step (`remove DKMS_TREE`, `copy SOURCE to BUILD`),
    /// with the errno and text of the call that failed.
    static func reported(_ operation: String, _ path: String, _ error: SystemError) -> SystemError {
        SystemError(operation: operation, path: path, errno: error.errno, message: error.message)
    }
}
