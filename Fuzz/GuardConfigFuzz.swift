// libFuzzer target: kmodguard.conf parser. Never traps; accepted values are within their limits.
import KmodguardCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let config = try GuardConfig.parse(bytes, file: "fuzz.conf")
        precondition((0...3600).contains(config.waitTimeout))
        precondition((1...100).contains(config.maxAttempts))
        precondition(config.modules.allSatisfy(isModuleName))
        precondition(config.grubenv.utf8.first == UInt8(ascii: "/"))
    } catch {
        precondition(!error.issues.isEmpty)
        for issue in error.issues { precondition(issue.line >= 1); _ = issue.description }
    }
    return 0
}
