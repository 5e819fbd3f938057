// libFuzzer target: GRUB environment block codec.
// 1. Arbitrary bytes as a block: reading and editing must never trap and keep 1024 bytes.
// 2. The input as a program of set/unset operations on a new block: after each one the block
//    must list exactly what a simple ordered model holds, and a failed set changes nothing.
import KmodguardCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    arbitraryBlock(input)
    operations(input)
    return 0
}

func arbitraryBlock(_ input: [UInt8]) {
    var raw = GrubEnvBlock.header + input
    if raw.count < GrubEnvBlock.size {
        raw += [UInt8](repeating: UInt8(ascii: "#"), count: GrubEnvBlock.size - raw.count)
    }
    guard var block = try? GrubEnvBlock(Array(raw.prefix(GrubEnvBlock.size))) else { return }
    _ = block.variables
    let before = block
    do {
        try block.set("next_entry", "x")
    } catch {
        precondition(block == before, "failed set changed the block")
    }
    block.unset("a")
    precondition(block.bytes.count == GrubEnvBlock.size)
}

func operations(_ input: [UInt8]) {
    let names = ["next_entry", "kmodguard_attempts", "a", "ab", "saved_entry"]
    var block = GrubEnvBlock()
    var model: [(name: String, value: String)] = []
    var index = 0
    while index + 2 <= input.count {
        let opcode = input[index]
        let name = names[Int(opcode >> 1) % names.count]
        let length = Int(input[index + 1]) % 200
        index += 2
        let valueBytes = Array(input[index..<min(input.count, index + length)]).map { $0 == 0 ? UInt8(ascii: "0") : $0 }
        index += length
        if opcode & 1 == 0 {
            let value = String(decoding: valueBytes, as: UTF8.self)
            let before = block
            do {
                try block.set(name, value)
                if let position = model.firstIndex(where: { $0.name == name }) {
                    model[position].value = value
                } else {
                    model.append((name, value))
                }
            } catch {
                precondition(block == before, "failed set changed the block")
            }
        } else {
            block.unset(name)
            model.removeAll { $0.name == name }
        }
        let listed = block.variables
        precondition(listed.count == model.count, "variable count differs from model")
        for (found, expected) in zip(listed, model) {
            precondition(found.name == expected.name && found.value == expected.value, "block differs from model")
        }
        precondition(block.bytes.count == GrubEnvBlock.size)
    }
}
