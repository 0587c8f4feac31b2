import SSH
import FoundationEssentials

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
        public var tls: Bool = false

        /// `postgres://user@host:port/db` — never with a password.
        public var display: String { "postgres://\(user)@\(host):\(port)/\(database)" + (schema == "public" ? "" : "?schema=\(schema)") }

        public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
            if let name = passwordEnv {
                guard let v = environment[name], !v.isEmpty else { throw ShipitError("the shared ledger's password variable \(name) is not set") }
                return v
            }
            if let file = passwordFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ShipitError("cannot read the shared ledger's password file \(file)") }
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
                throw ShipitError.input("\(field): the URL holds a password; put it in an environment variable (password_env) or a file (password_file)")
            }
            guard let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty else {
                throw ShipitError.input("\(field): expected postgres://user@host:port/database (user and host are required)")
            }
            let db = String(c.path.drop(while: { $0 == "/" }))
            guard !db.isEmpty, Self.isName(db) else { throw ShipitError.input("\(field): the database name is missing or invalid") }
            var t = PostgresTarget(host: host, port: c.port ?? 5432, user: user, database: db)
            for item in c.queryItems ?? [] {
                switch item.name {
                case "schema":
                    guard let s = item.value, Self.isName(s) else { throw ShipitError.input("\(field): schema must be a plain name") }
                    t.schema = s
                case "sslmode": t.tls = item.value == "require"
                default: throw ShipitError.input("\(field): unknown URL parameter '\(item.name)' (allowed: schema, sslmode)")
                }
            }
            return t
        }

        static func isName(_ s: String) -> Bool {
            s.wholeMatch(of: #/[A-Za-z_][A-Za-z0-9_]{0,62}/#) != nil
        }
    }

    public var display: String {
        switch self {
        case let .sqlite(path): return path
        case let .postgres(t): return t.display
        }
    }
}
