import Foundation
import KmodguardCore
@testable import KmodguardInitramfs

/// Generator wrappers that run mkinitramfs or dracut in a private mount namespace whose /etc,
/// /usr/sbin and /usr/share/initramfs-tools have the test's files layered on top (overlayfs, upper
/// layers on a tmpfs): /etc/kmodguard/kmodguard.conf guards the fixture, kmodguard-early and the
/// hooks are the repository's. The host's own kmodguard installation, if any, is neither used
/// nor changed, and nothing needs restoring afterwards.
struct InitramfsSandbox {
    let path: String
    var bin: String { path + "/bin" }

    /// - Parameters:
    ///   - hook: put the repository's initramfs-tools hook and dracut module in; false hides any
    ///     installed one (an overlayfs whiteout), as on a system without kmodguard's hook.
    ///   - dracut: the wrapper from scripts/lib/dracut.sh; adds bin/dracut and bin/lsinitrd.
    init(early: String, hook: Bool, dracut: String? = nil) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-sandbox-\(UUID().uuidString)").path
        let repository = InitramfsHost.repository
        try write("MODULES=\"\(InitramfsHost.module)\"\n", to: "layers/etc/kmodguard/kmodguard.conf")
        try copy(early, to: "layers/usr/sbin/kmodguard-early")
        var hidden: [String] = []
        let itoolsHook = repository + "/initramfs-tools/hooks/kmodguard"
        let itoolsScript = repository + "/initramfs-tools/scripts/local-top/kmodguard"
        try FileManager.default.createDirectory(atPath: path + "/layers/usr/share/initramfs-tools/hooks", withIntermediateDirectories: true)
        if hook, FileManager.default.fileExists(atPath: itoolsHook) {
            try copy(itoolsHook, to: "layers/usr/share/initramfs-tools/hooks/kmodguard")
            if FileManager.default.fileExists(atPath: itoolsScript) {
                try copy(itoolsScript, to: "layers/usr/share/initramfs-tools/scripts/local-top/kmodguard")
            }
        } else {
            hidden += ["/usr/share/initramfs-tools/hooks/kmodguard", "/usr/share/initramfs-tools/scripts/local-top/kmodguard"]
        }
        try write(["/etc", "/usr/sbin", "/usr/share/initramfs-tools"].joined(separator: "\n") + "\n", to: "overlays")
        try write(hidden.map { $0 + "\n" }.joined(), to: "hidden")
        try write(Self.enter, to: "enter.sh", executable: true)
        try write("#!/bin/sh\nexec '\(path)/enter.sh' /usr/sbin/mkinitramfs \"$@\"\n", to: "bin/mkinitramfs", executable: true)

        if let dracut {
            // A private dracutbasedir: the extracted one plus the repository's 90kmodguard.
            let basedir = parentDirectory(dracut) + "/basedir"
            try InitramfsHost.shell("cp -a \"$0\"/. \"$1\"", [basedir, path + "/dracut"])
            let module = repository + "/dracut/90kmodguard"
            if hook, FileManager.default.fileExists(atPath: module + "/module-setup.sh") {
                try InitramfsHost.shell("cp -a \"$0\" \"$1\"", [module, path + "/dracut/modules.d/90kmodguard"])
            }
            try write("#!/bin/sh\ndracutbasedir='\(path)/dracut' exec '\(path)/enter.sh' '\(dracut)' \"$@\"\n", to: "bin/dracut", executable: true)
            try write("#!/bin/sh\ndracutbasedir='\(path)/dracut' exec '\(parentDirectory(dracut))/lsinitrd' \"$@\"\n", to: "bin/lsinitrd", executable: true)
        }
    }

    func remove() {
        if !InitramfsHost.keep { try? FileManager.default.removeItem(atPath: path) }
    }

    private func write(_ text: String, to relative: String, executable: Bool = false) throws {
        let file = path + "/" + relative
        try FileManager.default.createDirectory(atPath: parentDirectory(file), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file) }
    }

    private func copy(_ source: String, to relative: String) throws {
        let file = path + "/" + relative
        try FileManager.default.createDirectory(atPath: parentDirectory(file), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: file)
    }

    /// enter.sh PROGRAM [ARG...]: PROGRAM in the private namespace.
    static let enter = """
        #!/bin/sh
        set -eu
        sandbox=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
        if [ "${KMODGUARD_SANDBOX_INSIDE:-}" != 1 ]; then
        \texport KMODGUARD_SANDBOX_INSIDE=1
        \texec unshare --mount --propagation private "$0" "$@"
        fi
        unset KMODGUARD_SANDBOX_INSIDE
        mkdir -p "$sandbox/mnt"
        mount -t tmpfs kmodguard-sandbox "$sandbox/mnt"
        while IFS= read -r dir; do
        \tmkdir -p "$sandbox/mnt/upper$dir" "$sandbox/mnt/work$dir"
        \tif [ -d "$sandbox/layers$dir" ]; then cp -a "$sandbox/layers$dir/." "$sandbox/mnt/upper$dir/"; fi
        done <"$sandbox/overlays"
        while IFS= read -r file; do
        \t# An overlayfs whiteout hides the host's file.
        \tmkdir -p "$(dirname -- "$sandbox/mnt/upper$file")"
        \trm -f "$sandbox/mnt/upper$file"
        \tmknod "$sandbox/mnt/upper$file" c 0 0
        done <"$sandbox/hidden"
        while IFS= read -r dir; do
        \tmount -t overlay kmodguard-sandbox -o "lowerdir=$dir,upperdir=$sandbox/mnt/upper$dir,workdir=$sandbox/mnt/work$dir" "$dir"
        done <"$sandbox/overlays"
        exec "$@"

        """
}
