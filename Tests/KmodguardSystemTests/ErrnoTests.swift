import Glibc
import KmodguardCore
import Testing

/// Core names errno values without the C library (kmodguard-early's Core has no libc import):
/// each named constant must be the C library's number.
@Suite struct ErrnoTests {
    @Test(arguments: [
        (Errno.noSuchFileOrDirectory, ENOENT), (.interrupted, EINTR), (.ioError, EIO), (.badFileDescriptor, EBADF),
        (.noMemory, ENOMEM), (.fileExists, EEXIST), (.improperLink, EXDEV), (.noSuchDevice, ENODEV),
        (.notDirectory, ENOTDIR), (.isDirectory, EISDIR), (.invalidArgument, EINVAL), (.fileTooLarge, EFBIG),
        (.noSpace, ENOSPC), (.readOnlyFileSystem, EROFS), (.tooManySymbolicLinkLevels, ELOOP),
    ])
    func namedConstantsAreTheCLibrarysNumbers(_ named: Errno, _ libc: Int32) {
        #expect(named.rawValue == libc)
    }

    @Test func messagesKeepTheirSpelling() {
        let error = SystemError(operation: "open", path: "/x", errno: .noSuchFileOrDirectory, message: "No such file or directory")
        #expect(error.description == "open /x: No such file or directory (errno 2)")
        #expect(ModuleLoadFailure.other(errno: .noSpace, message: "m").summary == "load error 28")
    }
}
