/// An error number from a system call, as swift-system's `Errno`: a type of its own, so a
/// path, a count or an exit status is never mistaken for one, and named constants instead of
/// bare numbers. The values are Linux's (the product's only platform); `ErrnoTests` checks each
/// constant against the C library's.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `errno 2`, as the messages have always spelt it.
    public var description: String { "errno " + String(rawValue) }

    /// ENOENT
    public static let noSuchFileOrDirectory = Errno(rawValue: 2)
    /// EINTR
    public static let interrupted = Errno(rawValue: 4)
    /// EIO
    public static let ioError = Errno(rawValue: 5)
    /// EBADF
    public static let badFileDescriptor = Errno(rawValue: 9)
    /// ENOMEM
    public static let noMemory = Errno(rawValue: 12)
    /// EEXIST
    public static let fileExists = Errno(rawValue: 17)
    /// EXDEV
    public static let improperLink = Errno(rawValue: 18)
    /// ENODEV
    public static let noSuchDevice = Errno(rawValue: 19)
    /// ENOTDIR
    public static let notDirectory = Errno(rawValue: 20)
    /// EISDIR
    public static let isDirectory = Errno(rawValue: 21)
    /// EINVAL
    public static let invalidArgument = Errno(rawValue: 22)
    /// EFBIG
    public static let fileTooLarge = Errno(rawValue: 27)
    /// ENOSPC
    public static let noSpace = Errno(rawValue: 28)
    /// EROFS
    public static let readOnlyFileSystem = Errno(rawValue: 30)
    /// ELOOP
    public static let tooManySymbolicLinkLevels = Errno(rawValue: 40)
}
