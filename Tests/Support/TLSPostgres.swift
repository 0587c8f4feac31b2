import Foundation
import ShipitCore

/// A PostgreSQL of a test's own with TLS on (its own data directory and port on loopback, started
/// and stopped by the test: nothing else is touched), certificates from a throwaway CA made with
/// openssl, and a pg_hba.conf that accepts TLS connections only (`hostssl`): a client that does
/// not use TLS is refused, so a connection that works proves TLS was used.
public final class TLSPostgres: @unchecked Sendable {
    public let dir: String
    public private(set) var port = 0
    public let password = "tls-test-password"
    public let passwordFile: String
    /// The CA that signed the server's certificates, and one that signed nothing of it.
    public let caCert: String
    public let otherCA: String
    let bin: String

    /// `serverName`: the name in the server's first certificate (`localhost` matches the URLs the
    /// tests use; `useCertificate(forName:)` swaps it).
    public init(serverName: String = "localhost") async throws {
        dir = Local.tempDir("tls-pg")
        passwordFile = dir + "/pw"
        caCert = dir + "/ca.crt"
        otherCA = dir + "/other-ca.crt"
        guard let found = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted().last
        else {
            throw TestFailure("PostgreSQL is not installed (apt-get install postgresql)")
        }
        bin = "/usr/lib/postgresql/\(found)/bin"
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try await Self.makeCA(dir: dir, name: "ca")
        try await Self.makeCA(dir: dir, name: "other-ca")
        try await issue(name: "server", for: serverName)
        try await asPostgres([
            "\(bin)/initdb", "-D", dir + "/data", "-U", "postgres", "--auth-local=trust", "-E", "UTF8",
        ])
        try """
        listen_addresses = '127.0.0.1'
        unix_socket_directories = '\(dir)'
        ssl = on
        ssl_cert_file = '\(dir)/data/server.crt'
        ssl_key_file = '\(dir)/data/server.key'
        fsync = off
        """.appendLine(toFile: dir + "/data/postgresql.conf")
        try """
        local all all trust
        hostssl all all 127.0.0.1/32 scram-sha-256
        hostssl all all ::1/128 scram-sha-256
        """.write(toFile: dir + "/data/pg_hba.conf", atomically: true, encoding: .utf8)
        try await installServerCertificate("server")
    }

    /// Starts the server on a free port (another test's server may hold the first one tried) and
    /// makes the `shipit` role and database. Call `stop()` afterwards, whatever this did.
    public func start() async throws {
        var lastError: Error?
        for _ in 0..<5 {
            port = Int.random(in: 26000...26999)
            do {
                // The port on the command line: each try its own.
                try await asPostgres([
                    "\(bin)/pg_ctl", "-D", dir + "/data", "-l", dir + "/log", "-o", "-p \(port)", "-w", "-t", "30",
                    "start",
                ])
                lastError = nil
                break
            } catch { lastError = error }
        }
        if let lastError { throw lastError }
        try await asPostgres([
            "psql", "-h", dir, "-p", String(port), "-U", "postgres", "-qc",
            "CREATE ROLE shipit LOGIN PASSWORD '\(password)'",
        ])
        try await asPostgres([
            "psql", "-h", dir, "-p", String(port), "-U", "postgres", "-qc", "CREATE DATABASE shipit OWNER shipit",
        ])
    }

    /// Stops exactly the server this instance started (its own data directory), if it runs.
    public func stop() async {
        _ = try? await asPostgres(["\(bin)/pg_ctl", "-D", dir + "/data", "-m", "immediate", "stop"])
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The server presents a certificate for `name` from now on (reloaded, not restarted).
    public func useCertificate(forName name: String) async throws {
        let file = "server-\(name.filter { $0.isLetter || $0.isNumber })"
        try await issue(name: file, for: name)
        try await installServerCertificate(file)
        try await asPostgres(["\(bin)/pg_ctl", "-D", dir + "/data", "reload"])
        try await Task.sleep(for: .milliseconds(500))  // the postmaster rereads its files on SIGHUP
    }

    public func url(host: String = "localhost", _ query: String) -> String {
        "postgres://shipit@\(host):\(port)/shipit" + (query.isEmpty ? "" : "?" + query)
    }

    static func makeCA(dir: String, name: String) async throws {
        try await Local.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            "/CN=shipit test \(name)",
            "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt",
        ])
    }

    /// A key and a certificate for `host` (CN and subjectAltName), signed by the test CA.
    func issue(name: String, for host: String) async throws {
        let ext = "\(dir)/\(name).ext"
        try "subjectAltName=DNS:\(host)\n".write(toFile: ext, atomically: true, encoding: .utf8)
        try await Local.run([
            "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(host)", "-keyout", "\(dir)/\(name).key",
            "-out", "\(dir)/\(name).csr",
        ])
        try await Local.run([
            "openssl", "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", caCert, "-CAkey", "\(dir)/ca.key",
            "-CAcreateserial",
            "-days", "1", "-extfile", ext, "-out", "\(dir)/\(name).crt",
        ])
    }

    func installServerCertificate(_ name: String) async throws {
        try await Local.run(["install", "-o", "postgres", "-m", "600", "\(dir)/\(name).key", "\(dir)/data/server.key"])
        try await Local.run(["install", "-o", "postgres", "-m", "644", "\(dir)/\(name).crt", "\(dir)/data/server.crt"])
    }

    @discardableResult
    func asPostgres(_ argv: [String]) async throws -> String {
        if getuid() == 0 {
            try await Local.run(["chown", "-R", "postgres:", dir])
            try await Local.run(["chmod", "755", dir])
            return try await Local.run(["runuser", "-u", "postgres", "--"] + argv)
        }
        return try await Local.run(argv)
    }
}

extension String {
    fileprivate func appendLine(toFile path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + self + "\n").utf8))
    }
}
