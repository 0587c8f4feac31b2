import CLibSSH2

/// `libssh2_init` is not thread-safe, so it runs exactly once, from a `static let` initialiser
/// (Swift guarantees those run once, atomically).
enum LibSSH2Runtime {
    static let initialised: Bool = {
        libssh2_init(0) == 0
    }()

    static func ensure() throws {
        guard initialised else {
            throw SSHError(
                kind: .internalError, host: "-", operation: "libssh2_init", message: "libssh2 could not be initialised")
        }
    }

    static var version: String {
        guard let v = libssh2_version(0) else { return "unknown" }
        return String(cString: v)
    }
}
