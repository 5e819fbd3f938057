import Foundation
import KmodguardCore
@testable import KmodguardSystem
import Testing

/// Real files in a scratch directory, with faults injected into the system calls
/// `Files.replaceAtomically` and `Files.overwriteInPlace` make: after any failure the file holds
/// exactly its old bytes (or the new ones, when the fault is retried away) and no temporary file
/// is left.
@Suite struct FileWriteFaultTests {
    /// One injected fault: the `call`-th call (from 1) of `operation` fails with `errno`, or for
    /// `pwrite` with `short`, writes only that many bytes.
    struct Fault: Sendable, CustomStringConvertible {
        var operation: String
        var call = 1
        var errno: Int32 = 0
        var short: Int?

        var description: String {
            operation + "#" + String(call) + (short.map { " short " + String($0) } ?? " errno " + String(errno))
        }
    }

    /// libc, except where a fault says otherwise.
    final class ScriptedSyscalls: FileSyscalls {
        let live = LiveFileSyscalls()
        let faults: [Fault]
        var calls: [String: Int] = [:]
        var injected: Int32 = 0
        var lastWasInjected = false

        init(_ faults: [Fault]) { self.faults = faults }

        /// The fault for this call of `operation`, counting it.
        func fault(_ operation: String) -> Fault? {
            calls[operation, default: 0] += 1
            let fault = faults.first { $0.operation == operation && $0.call == calls[operation] }
            lastWasInjected = fault != nil && fault?.short == nil
            if let fault, fault.short == nil { injected = fault.errno }
            return fault
        }

        func open(_ path: String, _ flags: Int32, _ mode: UInt32) -> Int32 {
            fault("open") == nil ? live.open(path, flags, mode) : -1
        }
        func size(_ fd: Int32) -> Int? { live.size(fd) }
        func pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int) -> Int {
            fault("pread") == nil ? live.pread(fd, buffer, count, offset) : -1
        }
        func pwrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: Int) -> Int {
            guard let fault = fault("pwrite") else { return live.pwrite(fd, buffer, count, offset) }
            guard let short = fault.short else { return -1 }
            return live.pwrite(fd, buffer, min(short, count), offset)
        }
        func fsync(_ fd: Int32) -> Int32 { fault("fsync") == nil ? live.fsync(fd) : -1 }
        func close(_ fd: Int32) -> Int32 {
            // The descriptor is released even when close reports an error, as on Linux.
            let result = live.close(fd)
            return fault("close") == nil ? result : -1
        }
        func rename(_ from: String, _ to: String) -> Int32 { fault("rename") == nil ? live.rename(from, to) : -1 }
        func unlink(_ path: String) -> Int32 { fault("unlink") == nil ? live.unlink(path) : -1 }
        var errno: Int32 { lastWasInjected ? injected : live.errno }
    }

    struct Case: Sendable, CustomStringConvertible {
        var faults: [Fault]
        /// The errno the write reports, nil when it succeeds.
        var fails: Int32?
        var description: String { faults.map(\.description).joined(separator: ", ") }
    }

    static let old = [UInt8](repeating: UInt8(ascii: "o"), count: 1024)
    static let new = [UInt8](repeating: UInt8(ascii: "n"), count: 1024)

    func scratch() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filefault-" + UUID().uuidString).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// "old", "new", or what else the file holds, short enough to read in a failure.
    func state(_ path: String) -> String {
        guard let bytes = FileManager.default.contents(atPath: path).map({ Array($0) }) else { return "missing" }
        if bytes == Self.old { return "old" }
        if bytes == Self.new { return "new" }
        return "mixed: \(bytes.count) bytes, \(bytes.filter { $0 == Self.new[0] }.count) of them new"
    }

    static let atomicCases: [Case] = [
        Case(faults: [Fault(operation: "pwrite", errno: EINTR)], fails: nil),
        Case(faults: [Fault(operation: "pwrite", short: 100), Fault(operation: "pwrite", call: 2, short: 1)], fails: nil),
        Case(faults: [Fault(operation: "pwrite", short: 512), Fault(operation: "pwrite", call: 2, errno: ENOSPC)], fails: ENOSPC),
        Case(faults: [Fault(operation: "pwrite", errno: ENOSPC)], fails: ENOSPC),
        Case(faults: [Fault(operation: "open", errno: EROFS)], fails: EROFS),
        Case(faults: [Fault(operation: "fsync", errno: EIO)], fails: EIO),
        Case(faults: [Fault(operation: "close", errno: EIO)], fails: EIO),
        Case(faults: [Fault(operation: "rename", errno: EXDEV)], fails: EXDEV),
    ]

    @Test(arguments: atomicCases) func replaceAtomicallyLeavesOldOrNewNeverHalf(_ testCase: Case) throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/state.json"
        #expect(Files.replaceAtomically(path, with: Self.old) == nil)
        let error = Files.replaceAtomically(path, with: Self.new, using: ScriptedSyscalls(testCase.faults))
        #expect(error?.errno.rawValue == testCase.fails)
        if error != nil { #expect(error?.path.hasPrefix(path) == true) }
        #expect(state(path) == (testCase.fails == nil ? "new" : "old"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["state.json"])
    }

    static let inPlaceCases: [Case] = [
        Case(faults: [Fault(operation: "pwrite", errno: EINTR)], fails: nil),
        Case(faults: [Fault(operation: "pwrite", short: 1), Fault(operation: "pwrite", call: 2, short: 1000)], fails: nil),
        // Half the block written, then the disk fails: the old block is written back.
        Case(faults: [Fault(operation: "pwrite", short: 512), Fault(operation: "pwrite", call: 2, errno: ENOSPC)], fails: ENOSPC),
        Case(faults: [Fault(operation: "pwrite", errno: EIO)], fails: EIO),
        Case(faults: [Fault(operation: "open", errno: EROFS)], fails: EROFS),
        Case(faults: [Fault(operation: "pread", errno: EIO)], fails: EIO),
        Case(faults: [Fault(operation: "fsync", errno: EIO)], fails: EIO),
    ]

    @Test(arguments: inPlaceCases) func overwriteInPlaceLeavesOldOrNewNeverHalf(_ testCase: Case) throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/grubenv"
        #expect(Files.replaceAtomically(path, with: Self.old) == nil)
        let inode = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        let error = Files.overwriteInPlace(path, with: Self.new, using: ScriptedSyscalls(testCase.faults))
        #expect(error?.errno.rawValue == testCase.fails)
        if error != nil { #expect(error?.path == path) }
        // fsync failing after a complete write cannot take the bytes back: the page cache has them.
        let expected = testCase.fails == nil || testCase.faults.contains { $0.operation == "fsync" } ? "new" : "old"
        #expect(state(path) == expected)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == inode)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["grubenv"])
    }

    @Test func aFailedWriteBackIsSaidInTheMessage() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/grubenv"
        #expect(Files.replaceAtomically(path, with: Self.old) == nil)
        let faults = [Fault(operation: "pwrite", short: 512), Fault(operation: "pwrite", call: 2, errno: EIO),
                      Fault(operation: "pwrite", call: 3, errno: EIO)]
        let error = try #require(Files.overwriteInPlace(path, with: Self.new, using: ScriptedSyscalls(faults)))
        #expect(error.errno == .ioError && error.message.hasSuffix("the old contents could not be written back"))
    }

    static let streamedCases: [Case] = [
        Case(faults: [Fault(operation: "pwrite", errno: EINTR)], fails: nil),
        Case(faults: [Fault(operation: "pwrite", short: 1), Fault(operation: "pwrite", call: 2, short: 300)], fails: nil),
        Case(faults: [Fault(operation: "pwrite", short: 512), Fault(operation: "pwrite", call: 2, errno: ENOSPC)], fails: ENOSPC),
        Case(faults: [Fault(operation: "pwrite", call: 2, errno: EIO)], fails: EIO),
    ]

    /// A download or an extracted member is written chunk by chunk at growing offsets
    /// (`OpenFile.write(_:at:)`, the same loop as `Files`' writes): EINTR and short writes still
    /// put every byte in its place; a failure names the file and its errno.
    @Test(arguments: streamedCases) func streamedChunksLandAtTheirOffsets(_ testCase: Case) throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/download"
        let file = try OpenFile.create(path, mode: 0o600)
        defer { file.close() }
        let sys = ScriptedSyscalls(testCase.faults)
        var failure: SystemError?
        do {
            try Self.old.withUnsafeBytes { try file.write($0, at: 0, using: sys) }
            try Self.new.withUnsafeBytes { try file.write($0, at: Self.old.count, using: sys) }
        } catch let error as SystemError {
            failure = error
        }
        #expect(failure?.errno.rawValue == testCase.fails)
        if let failure { #expect(failure.path == path && failure.operation == "write") }
        if testCase.fails == nil { #expect(FileManager.default.contents(atPath: path).map { Array($0) } == Self.old + Self.new) }
    }
}
