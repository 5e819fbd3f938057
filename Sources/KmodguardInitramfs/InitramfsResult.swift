/// A rebuilt, verified and installed image.
package struct InitramfsResult: Sendable, Equatable {
    package var kernel: String
    package var generator: InitramfsGeneratorKind
    /// The image that now holds the new build.
    package var image: String
    /// Its size in bytes.
    package var size: Int
    /// Required module → its path inside the image.
    package var modules: [String: String]
    /// The generator's full output and kmodguard's notes on the run.
    package var log: String
    /// Wall time of the generator alone, and of the verification listing.
    package var generatorSeconds: Double
    package var verifySeconds: Double
    /// False when there was no image before: the boot loader configuration may not mention one
    /// yet (Debian's grub-mkconfig only writes an `initrd` line for an existing file), so the
    /// caller should run update-grub.
    package var replacedExisting: Bool
    /// What went wrong after the image was installed (a failed post-update hook); the image is
    /// in place and verified.
    package var warnings: [String] = []
}
