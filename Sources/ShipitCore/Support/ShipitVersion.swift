import SSH

/// shipit's version, and the libssh2 it runs with (for `--version`).
public enum ShipitVersion {
    public static let current = "0.1.0"
    public static var libssh2: String { SSHSession.libssh2Version }
}
