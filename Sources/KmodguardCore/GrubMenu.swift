/// One `menuentry` of a grub.cfg, with the id path `grub-reboot` takes for it.
public struct GrubMenuEntry: Equatable, Sendable {
    public let title: String
    /// The entry's own id (`--id` / `$menuentry_id_option`), or nil when it has none.
    public let id: String?
    /// Ids (or titles, where an id is missing) of the enclosing submenus, outermost first.
    public let submenus: [String]
    /// Release of the kernel its `linux` line loads (`/boot/vmlinuz-RELEASE`), if any.
    public let kernel: KernelRelease?
    public let isRecovery: Bool

    public init(title: String, id: String?, submenus: [String], kernel: KernelRelease?, isRecovery: Bool) {
        self.title = title
        self.id = id
        self.submenus = submenus
        self.kernel = kernel
        self.isRecovery = isRecovery
    }

    /// What `grub-reboot` / `next_entry` needs: `submenu-id>entry-id`. GRUB 2.06 silently ignores
    /// a bare inner id.
    public var path: String {
        (submenus + [id ?? title]).joined(separator: ">")
    }
}

/// The menu entries of a grub.cfg as written by `grub-mkconfig` (Debian's `update-grub`).
public struct GrubMenu: Equatable, Sendable {
    public let entries: [GrubMenuEntry]

    public init(entries: [GrubMenuEntry]) { self.entries = entries }

    /// Parses grub.cfg text. Unknown commands are ignored; only the block structure, the
    /// entry headers and `linux` lines matter.
    public init(parsing bytes: [UInt8]) {
        enum Frame { case submenu(String), entry, other }
        var stack: [Frame] = []
        var entries: [GrubMenuEntry] = []
        var openEntry: (title: String, id: String?, submenus: [String], kernel: KernelRelease?, recovery: Bool)?

        for line in ShellAssignmentParser.splitLines(bytes) {
            let words = GrubMenu.words(line)
            guard let command = words.first else { continue }
            if command == "}" {
                if case .entry? = stack.last, let entry = openEntry {
                    entries.append(GrubMenuEntry(title: entry.title, id: entry.id, submenus: entry.submenus,
                                                 kernel: entry.kernel, isRecovery: entry.recovery))
                    openEntry = nil
                }
                if !stack.isEmpty { stack.removeLast() }
                continue
            }
            let opensBlock = words.last == "{"
            if command == "menuentry" || command == "submenu", opensBlock, words.count >= 3 {
                let title = words[1]
                let id = GrubMenu.entryId(words)
                let submenus: [String] = stack.compactMap { frame in
                    if case .submenu(let name) = frame { return name }
                    return nil
                }
                if command == "submenu" {
                    stack.append(.submenu(id ?? title))
                } else {
                    let recovery = (id.map { $0.utf8.contains(subsequence: Array("-recovery-".utf8)) } ?? false)
                        || title.utf8.contains(subsequence: Array("(recovery mode)".utf8))
                    openEntry = (title, id, submenus, nil, recovery)
                    stack.append(.entry)
                }
                continue
            }
            if opensBlock {
                stack.append(.other)
                continue
            }
            if case .entry? = stack.last, command == "linux" || command == "linux16" || command == "linuxefi",
               words.count >= 2, openEntry != nil, openEntry?.kernel == nil {
                openEntry?.kernel = GrubMenu.kernelRelease(fromImagePath: words[1])
            }
        }
        self.entries = entries
    }

    /// The entry to boot `kernel` with: the normal (non-recovery) entry inside the submenu if
    /// there is one, else a top-level entry for it.
    public func entry(for kernel: KernelRelease) -> GrubMenuEntry? {
        let candidates = entries.filter { $0.kernel == kernel && !$0.isRecovery }
        // The kernel's own entry (its id names the release) rather than the "simple" top entry,
        // which boots whatever kernel is newest when grub.cfg is next regenerated.
        let specific = candidates.filter { $0.id?.utf8.contains(subsequence: Array(kernel.string.utf8)) ?? false }
        return specific.first(where: { !$0.submenus.isEmpty }) ?? specific.first
            ?? candidates.first(where: { !$0.submenus.isEmpty }) ?? candidates.first
    }

    /// The entry a grubenv value names: a menu path (`Submenu>Entry` titles, as kmodguard writes
    /// `kmodguard_pin` and `kmodguard_good_entry`) or, for `next_entry` (which `grub-reboot`
    /// users may set either way), also an entry id.
    public func entry(named name: String, matchingIDs: Bool = false) -> GrubMenuEntry? {
        entries.first { $0.path == name || (matchingIDs && $0.id == name) }
    }

    /// Kernels with a normal entry, newest first.
    public var kernels: [KernelRelease] {
        var seen: [KernelRelease] = []
        for entry in entries where !entry.isRecovery {
            if let kernel = entry.kernel, !seen.contains(kernel) { seen.append(kernel) }
        }
        return seen.sorted(by: >)
    }

    static func entryId(_ words: [String]) -> String? {
        var index = 2
        while index + 1 < words.count {
            let word = words[index]
            if word == "--id" || word == "$menuentry_id_option" || word == "${menuentry_id_option}" {
                return words[index + 1]
            }
            if word.utf8.starts(with: Array("--id=".utf8)) {
                return String(decoding: word.utf8.dropFirst(5), as: UTF8.self)
            }
            index += 1
        }
        return nil
    }

    /// `/boot/vmlinuz-6.1.0-56-cloud-amd64` → `6.1.0-56-cloud-amd64` (also `/vmlinuz-…` of a
    /// separate /boot, and `(hd0,1)/…` device prefixes).
    static func kernelRelease(fromImagePath path: String) -> KernelRelease? {
        let bytes = Array(path.utf8)
        let base = bytes.lastIndex(of: UInt8(ascii: "/")).map { bytes[($0 + 1)...] } ?? bytes[...]
        for prefix in ["vmlinuz-", "vmlinux-", "bzImage-", "kernel-"] where base.starts(with: Array(prefix.utf8)) {
            return KernelRelease(String(decoding: base.dropFirst(prefix.utf8.count), as: UTF8.self))
        }
        return nil
    }

    /// Splits a grub.cfg line into words the way GRUB's lexer does for what update-grub writes:
    /// quotes removed, `\x` escapes outside single quotes, `#` comments, `;` as a separator.
    static func words(_ line: ArraySlice<UInt8>) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        var inWord = false
        var index = line.startIndex
        func finish() {
            if inWord { words.append(String(decoding: current, as: UTF8.self)) }
            current = []
            inWord = false
        }
        while index < line.endIndex {
            let byte = line[index]
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                finish()
            case UInt8(ascii: ";"):
                finish()
                words.append(";")
            case UInt8(ascii: "#") where !inWord:
                finish()
                return words
            case UInt8(ascii: "'"):
                inWord = true
                index += 1
                while index < line.endIndex, line[index] != UInt8(ascii: "'") {
                    current.append(line[index])
                    index += 1
                }
            case UInt8(ascii: "\""):
                inWord = true
                index += 1
                while index < line.endIndex, line[index] != UInt8(ascii: "\"") {
                    if line[index] == UInt8(ascii: "\\"), index + 1 < line.endIndex {
                        index += 1
                    }
                    current.append(line[index])
                    index += 1
                }
            case UInt8(ascii: "\\"):
                inWord = true
                if index + 1 < line.endIndex {
                    index += 1
                    current.append(line[index])
                }
            default:
                inWord = true
                current.append(byte)
            }
            index += 1
        }
        finish()
        return words
    }
}

extension Sequence where Element == UInt8 {
    /// True when `needle` occurs contiguously.
    func contains(subsequence needle: [UInt8]) -> Bool {
        let haystack = Array(self)
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        var start = 0
        while start + needle.count <= haystack.count {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }
}
