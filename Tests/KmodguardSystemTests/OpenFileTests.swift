import Foundation
import KmodguardCore
import KmodguardSystem
import Testing

/// Streaming through an open file: what is written is read back, at offsets too; locks and
/// appends behave as the callers rely on.
@Suite struct OpenFileTests {
    @Test func writtenBytesReadBackInChunksAndAtOffsets() throws {
        let scratch = try SystemScratch("openfile")
        defer { scratch.remove() }
        let path = scratch.path + "/data"
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        let output = try OpenFile.create(path, mode: 0o640)
        try output.write(bytes[0..<600])
        try output.write(UnsafeRawBufferPointer(start: nil, count: 0), at: 0)
        try bytes[600...].withUnsafeBytes { try output.write($0, at: 600) }
        try output.sync()
        #expect(try output.status() == FileStatus.of(path))
        output.close()

        let status = try FileStatus.of(path)
        #expect(status.kind == .regular && status.size == 1000 && status.permissions == 0o640)
        let input = try OpenFile.open(path, .readOnly, options: .noFollow)
        defer { input.close() }
        var buffer = [UInt8](repeating: 0, count: 256)
        var read: [UInt8] = []
        while true {
            let count = try input.read(into: &buffer)
            if count == 0 { break }
            read += buffer[0..<count]
        }
        #expect(read == bytes)
        #expect(try input.read(at: 990, into: &buffer, index: 6, count: 100) == 10)
        #expect(Array(buffer[6..<16]) == Array(bytes[990...]))
        #expect(try input.read(at: 1000, into: &buffer, count: 1) == 0)
    }

    @Test func truncateAndAppend() throws {
        let scratch = try SystemScratch("append")
        defer { scratch.remove() }
        let path = scratch.path + "/log"
        let file = try OpenFile.open(path, .readWrite, options: [.create, .truncate], mode: 0o600)
        try file.write(Array("first\n".utf8))
        try file.truncate(to: 3)
        file.close()
        try OpenFile.append(Array("+more".utf8), to: path)
        #expect(scratch.contents("log") == "fir+more")
        #expect(throws: SystemError.self) { try OpenFile.append([1], to: scratch.path + "/missing") }
        #expect(scratch.contents("missing") == nil)
    }

    @Test func anExclusiveLockIsFreeOnlyOnce() throws {
        let scratch = try SystemScratch("lock")
        defer { scratch.remove() }
        let path = scratch.path + "/lock"
        let first = try OpenFile.open(path, .readWrite, options: .create, mode: 0o600)
        let second = try OpenFile.open(path, .readWrite)
        #expect(try first.lockExclusivelyIfFree())
        // flock belongs to the open file description: a second open conflicts.
        #expect(try !second.lockExclusivelyIfFree())
        first.close()
        #expect(try second.lockExclusivelyIfFree())
        second.close()
    }

    @Test func permissionsOfAnOpenFile() throws {
        let scratch = try SystemScratch("chmod")
        defer { scratch.remove() }
        let path = try scratch.file("f", "x", mode: 0o600)
        let file = try OpenFile.open(path, .readOnly)
        defer { file.close() }
        try file.setPermissions(0o4755)
        #expect(try FileStatus.of(path).permissions == 0o4755)
    }
}
