import CLibSSH2
import FoundationEssentials

/// Public-key authentication: key files first (in the order given), then the ssh-agent.
enum Authenticator {
    static func authenticate(
        connection: Connection, methods: [SSHOptions.Authentication], deadline: ContinuousClock.Instant
    ) throws {
        let user = connection.target.user
        var tried: [String] = []
        for method in methods {
            switch method {
            case .privateKey(let path, let passphrase):
                guard FileManager.default.isReadableFile(atPath: path) else {
                    tried.append("\(path) (not readable)")
                    continue
                }
                let rc = try retryAuth(connection, deadline: deadline) {
                    libssh2_userauth_publickey_fromfile_ex(
                        connection.session, user, UInt32(user.utf8.count), nil, path, passphrase)
                }
                if rc == 0 { return }
                tried.append("\(path) (\(connection.lastError()))")
            case .agent(let socketPath):
                if try agentAuth(connection, user: user, socketPath: socketPath, deadline: deadline) { return }
                tried.append("ssh-agent (no identity accepted)")
            }
        }
        let what = tried.isEmpty ? "no identity configured" : "tried " + tried.joined(separator: ", ")
        throw SSHError(
            kind: .authentication, host: connection.host, operation: "authenticate as \(user)",
            message: "permission denied (publickey): \(what)")
    }

    /// Like `Connection.retry`, but an auth refusal is an answer (rc < 0), not an exception.
    private static func retryAuth(_ connection: Connection, deadline: ContinuousClock.Instant, _ call: () -> Int32)
        throws -> Int32
    {
        while true {
            let rc = call()
            if rc == LIBSSH2_ERROR_EAGAIN {
                try connection.waitSocket("authenticate", deadline: deadline)
                continue
            }
            if rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_SEND
                || rc == LIBSSH2_ERROR_SOCKET_RECV
            {
                throw connection.error(.authentication, "authenticate")
            }
            return rc
        }
    }

    private static func agentAuth(
        _ connection: Connection, user: String, socketPath: String?, deadline: ContinuousClock.Instant
    ) throws -> Bool {
        guard let path = socketPath ?? ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"], !path.isEmpty,
            let agent = libssh2_agent_init(connection.session)
        else { return false }
        defer { libssh2_agent_free(agent) }
        libssh2_agent_set_identity_path(agent, path)
        guard libssh2_agent_connect(agent) == 0 else { return false }
        defer { libssh2_agent_disconnect(agent) }
        guard try retryAuth(connection, deadline: deadline, { libssh2_agent_list_identities(agent) }) == 0 else {
            return false
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        while true {
            var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
            if libssh2_agent_get_identity(agent, &identity, previous) != 0 { return false }
            if try retryAuth(connection, deadline: deadline, { libssh2_agent_userauth(agent, user, identity) }) == 0 {
                return true
            }
            previous = identity
        }
    }
}
