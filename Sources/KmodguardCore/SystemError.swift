/// A failed system call: which operation, on which path, with errno and its text.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Errno
    public let message: String

    public init(operation: String, path: String, errno: Errno, message: String) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.message = message
    }

    public var description: String { operation + " " + path + ": " + message + " (" + errno.description + ")" }
}
