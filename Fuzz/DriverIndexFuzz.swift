// libFuzzer target: a driver database's index.json, read as the client reads it (IndexCodec:
// JSON, schema probe, DriverIndex's Decodable, every field validated). Never traps; an accepted
// index encodes and decodes back to itself; the driver chosen for a kernel supports it and
// provides the wanted modules, and prebuilt modules are offered only for all of them.
import Foundation
import KmodguardCompletion
import KmodguardCore

/// The two cases IndexCodec throws; the CLI's full DatabaseError needs the system layer.
package enum DatabaseError: Error {
    case index(url: String, reason: String)
    case usage(String)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let index: DriverIndex
    do {
        index = try IndexCodec.decode(bytes, url: "https://fuzz.example/index.json")
    } catch {
        return 0
    }
    do {
        let again = try IndexCodec.decode(try IndexCodec.encode(index), url: "re-encoded")
        precondition(again == index, "index does not survive encode and decode")
    } catch {
        preconditionFailure("an accepted index does not encode and decode")
    }
    var kernels = ["6.1.0-57-cloud-amd64", "6.12.0-1-amd64", "5.10.0-30-amd64"]
    for driver in index.drivers {
        kernels += driver.prebuilt.keys
        for range in driver.kernels { kernels += [range.from, range.before].compactMap { $0 } }
    }
    for text in kernels.prefix(64) {
        guard let kernel = KernelRelease(text) else { continue }
        for modules in [[], Array(index.drivers.first?.modules.prefix(2) ?? [])] {
            guard let selection = index.select(kernel: kernel, modules: modules) else {
                precondition(!index.drivers.contains { $0.supports(kernel) && $0.provides(modules) }, "a usable driver was not chosen")
                continue
            }
            precondition(selection.driver.supports(kernel) && selection.driver.provides(modules), "chosen driver does not fit")
            if let prebuilt = selection.prebuilt {
                let wanted = modules.isEmpty ? selection.driver.modules : modules
                let keys = Set(prebuilt.keys.map(DriverName.moduleKey))
                precondition(wanted.allSatisfy { keys.contains(DriverName.moduleKey($0)) }, "prebuilt offered without every module")
            }
        }
    }
    return 0
}
