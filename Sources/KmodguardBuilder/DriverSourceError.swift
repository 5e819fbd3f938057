package import KmodguardCompletion
package import KmodguardCore

/// Why a directory cannot be used as a driver source.
package enum DriverSourceError: Error, Equatable, CustomStringConvertible {
    case notConfigured(configFile: String)
    case notFound(String)
    case notADriverSource(String)
    case unreadable(SystemError)
    case missingKey(String, file: String)
    case invalidName(field: String, value: String, file: String)
    /// bash could not source the dkms.conf (timeout, exit status, unreadable output).
    case evaluationFailed(file: String, reason: String)
    /// DKMS would reject the evaluated file ("Bad conf file"), or it uses a key kmodguard refuses.
    case invalidConfig(file: String, DkmsConfigError)

    package var description: String {
        switch self {
        case .notConfigured(let configFile):
            return "no driver source: pass --source DIR or set SOURCE=/usr/src/NAME-VERSION in " + configFile
        case .notFound(let path):
            return "driver source " + path + " is not a directory; check SOURCE= or --source"
        case .notADriverSource(let path):
            return path + " is not a driver source: it has neither a dkms.conf nor a Kbuild file or Makefile with obj-m"
        case .unreadable(let error):
            return error.description
        case .missingKey(let key, let file):
            return file + " has no " + key + "=; add it (DKMS needs it too)"
        case .evaluationFailed(let file, let reason):
            return file + " cannot be evaluated as DKMS sources it (bash, as the build user, no network): " + reason
        case .invalidConfig(let file, let error):
            return file + " (as bash evaluates it): " + error.description
        case .invalidName(let field, let value, let file):
            return file + ": " + field + " '" + value
                + "' cannot name a build directory (use letters, digits and . _ - + ~, no leading . or -, no .. in locations)"
        }
    }
}
