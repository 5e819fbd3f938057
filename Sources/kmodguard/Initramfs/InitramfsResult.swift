/// A rebuilt, verified and installed image.
struct InitramfsResult: Sendable, Equatable {
    var kernel: String
    var generator: InitramfsGeneratorKind
    /// The image that now holds the new build.
    var image: String
    /// Its size in bytes.
    var size: Int
    /// Required module → its path inside the image.
    var modules: [String: String]
    /// The generator's full output and kmodguard's notes on the run.
    var log: String
    /// Wall time of the generator alone, and of the verification listing.
    var generatorSeconds: Double
    var verifySeconds: Double
    /// False when there was no image before: the boot loader configuration may not mention one
    /// yet (Debian's grub-mkconfig only writes an `initrd` line for an existing file), so the
    /// caller should run update-grub.
    var replacedExisting: Bool
    /// What went wrong after the image was installed (a failed post-update hook); the image is
    /// in place and verified.
    var warnings: [String] = []
}
