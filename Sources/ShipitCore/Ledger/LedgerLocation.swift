import FoundationEssentials
import ShipitSupport

/// Where the ledger lives, from `ledger:` in shipit.yml: an SQLite file (the default, next to the
/// config) or a shared PostgreSQL server. The password is never part of the URL: it comes from an
/// environment variable or a file, so it is never in the config, the output or the ledger.
public enum LedgerLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresTarget)

    public struct PostgresTarget: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var database: String
        /// Tables live in this schema (several apps or test runs can share a database).
        public var schema: String = "public"
        public var passwordEnv: String?
        public var passwordFile: String?
        /// libpq's `sslmode`, with libpq's meaning (see `SSLMode`); `prefer` when the URL has none.
        public var sslMode: SSLMode = .defaultMode
        /// CA certificates the server's certificate is checked against (`verify-ca`, `verify-full`);
        /// nil: the system's CA bundle.
        public var sslRootCert: String?
        /// A client certificate and its key, for servers that ask for one.
        public var sslCert: String?
        public var sslKey: String?

        /// libpq's `sslmode` values. `disable`: never TLS. `allow`: plain first, TLS if the server
        /// insists. `prefer`: TLS if the server offers it, else plain. `require`: TLS, the server's
        /// certificate not checked. `verify-ca`: TLS, a certificate signed by a trusted CA.
        /// `verify-full`: that, and issued for the host name in the URL. Only the last two stop a
        /// machine in the middle; the first four send the password to whoever answers.
        public enum SSLMode: String, Sendable, Equatable, CaseIterable {
            case disable, allow, prefer, require
            case verifyCA = "verify-ca"
            case verifyFull = "verify-full"

            /// libpq's own default, so that a URL means to shipit what it means to psql.
            public static let defaultMode = SSLMode.prefer

            /// Whether the server's certificate is checked against CAs (then the root certificates
            /// matter).
            public var verifies: Bool { self == .verifyCA || self == .verifyFull }
        }

        /// `postgres://user@host:port/db` — never with a password.
        public var display: String {
            "postgres://\(user)@\(host):\(port)/\(database)" + (schema == "public" ? "" : "?schema=\(schema)")
        }

        public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
            if let name = passwordEnv {
                guard let v = environment[name], !v.isEmpty else {
                    throw ShipitError("the shared ledger's password variable \(name) is not set")
                }
                return v
            }
            if let file = passwordFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ShipitError("cannot read the shared ledger's password file \(file)")
                }
                return text.trimmed()
            }
            return environment["SHIPIT_LEDGER_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        }

        /// Parses `postgres://user@host[:port]/database[?schema=name]`; a password in it is refused.
        public static func parse(_ url: String, field: String) throws -> PostgresTarget {
            guard let c = URLComponents(string: url), ["postgres", "postgresql"].contains(c.scheme ?? "") else {
                throw ShipitError.input("\(field): expected postgres://user@host:port/database")
            }
            if c.password != nil {
                throw ShipitError.input(
                    "\(field): the URL holds a password; put it in an environment variable (password_env) or a file (password_file)"
                )
            }
            guard let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty else {
                throw ShipitError.input(
                    "\(field): expected postgres://user@host:port/database (user and host are required)")
            }
            let db = String(c.path.drop(while: { $0 == "/" }))
            guard !db.isEmpty, Self.isName(db) else {
                throw ShipitError.input("\(field): the database name is missing or invalid")
            }
            var t = PostgresTarget(host: host, port: c.port ?? 5432, user: user, database: db)
            for item in c.queryItems ?? [] {
                switch item.name {
                case "schema":
                    guard let s = item.value, Self.isName(s) else {
                        throw ShipitError.input("\(field): schema must be a plain name")
                    }
                    t.schema = s
                case "sslmode":
                    guard let v = item.value, let mode = SSLMode(rawValue: v) else {
                        throw ShipitError.input(
                            "\(field): sslmode '\(item.value ?? "")' is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))"
                        )
                    }
                    t.sslMode = mode
                case "sslrootcert", "sslcert", "sslkey":
                    // Files on the deployer, absolute: the same file whatever directory shipit runs in.
                    guard let v = item.value, v.hasPrefix("/"), !v.contains("\0") else {
                        throw ShipitError.input(
                            "\(field): \(item.name) must be an absolute path to a file on this machine")
                    }
                    switch item.name {
                    case "sslrootcert": t.sslRootCert = v
                    case "sslcert": t.sslCert = v
                    default: t.sslKey = v
                    }
                default:
                    throw ShipitError.input(
                        "\(field): unknown URL parameter '\(item.name)' (allowed: schema, sslmode, sslrootcert, sslcert, sslkey)"
                    )
                }
            }
            if (t.sslCert == nil) != (t.sslKey == nil) {
                throw ShipitError.input("\(field): sslcert and sslkey go together (a client certificate and its key)")
            }
            if t.sslRootCert != nil && !t.sslMode.verifies {
                throw ShipitError.input(
                    "\(field): sslrootcert is only used with sslmode=verify-ca or verify-full (sslmode is \(t.sslMode.rawValue))"
                )
            }
            return t
        }

        static func isName(_ s: String) -> Bool {
            s.wholeMatch(of: #/[A-Za-z_][A-Za-z0-9_]{0,62}/#) != nil
        }
    }

    public var display: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let t): return t.display
        }
    }
}
