/// The release of both programs.
public let kmodguardVersion = "0.1.0"
