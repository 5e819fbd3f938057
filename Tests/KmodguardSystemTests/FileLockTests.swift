import Foundation
import KmodguardSystem
import Testing

@Suite struct FileLockTests {
    func scratch() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filelock-" + UUID().uuidString).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func aSecondHolderWaitsThenTimesOutNamingTheFirst() throws {
        let path = try scratch() + "/lock"
        let first = try FileLock.acquire(path, timeoutSeconds: 1).get()
        // flock is per open file description: a second open in this process conflicts too.
        var toldAbout: Int32 = -1
        let second = FileLock.acquire(path, timeoutSeconds: 1) { toldAbout = $0 }
        guard case .failure(.timedOut(let lockPath, let holder, 1)) = second else {
            Issue.record("expected a timeout, got \(second)")
            return
        }
        #expect(lockPath == path)
        #expect(holder == getpid())
        #expect(toldAbout == getpid())
        first.release()
        let third = try FileLock.acquire(path, timeoutSeconds: 1).get()
        third.release()
    }

    @Test func aLockInAMissingDirectoryIsASystemErrorWithThePath() {
        let path = "/nonexistent-kmodguard-test/lock"
        guard case .failure(.system(let error)) = FileLock.acquire(path, timeoutSeconds: 1) else {
            Issue.record("expected a system error")
            return
        }
        #expect(error.path == path)
        #expect(error.errno == .noSuchFileOrDirectory)
    }

    /// dpkg holds /var/lib/dpkg/lock with fcntl(F_SETLK); a child process stands in for it here
    /// (POSIX locks of this process are invisible to its own F_GETLK).
    @Test func aPosixLockHeldByAnotherProcessIsSeenAndWaitedFor() throws {
        let path = try scratch() + "/lock"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(3)", path]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        _ = output.fileHandleForReading.readData(ofLength: 7)
        #expect(try FileLock.posixLockHolder(path).get() == holder.processIdentifier)
        #expect(FileLock.waitForPosixLocks([path], timeoutSeconds: 1) == holder.processIdentifier)
        // Waits for the holder to finish (it sleeps 3 s), then reports none.
        #expect(FileLock.waitForPosixLocks(["/nonexistent-kmodguard-test/lock", path], timeoutSeconds: 30) == 0)
        holder.waitUntilExit()
        #expect(try FileLock.posixLockHolder(path).get() == 0)
        #expect(try FileLock.posixLockHolder("/nonexistent-kmodguard-test/lock").get() == 0)
    }
}

@Suite struct FilesystemSpaceTests {
    @Test func freeBytesOfAnExistingDirectory() throws {
        let free = try FilesystemSpace.freeBytes(FileManager.default.temporaryDirectory.path).get()
        #expect(free > 0)
    }

    @Test func aMissingPathIsAnError() {
        guard case .failure(let error) = FilesystemSpace.freeBytes("/nonexistent-kmodguard-test") else {
            Issue.record("expected an error")
            return
        }
        #expect(error.errno == .noSuchFileOrDirectory)
        #expect(error.operation == "statvfs")
    }
}
