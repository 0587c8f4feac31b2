import Foundation
import ShipitCore

/// The two ledger stores the same test-suite runs against: SQLite in a temp dir, and the real
/// PostgreSQL started by `scripts/pg.sh up` (make test), each test in a schema of its own.
public enum TestStore: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres
    public var description: String { rawValue }

    public static var pgTarget: LedgerLocation.PostgresTarget {
        let env = ProcessInfo.processInfo.environment
        var t = try! LedgerLocation.PostgresTarget.parse(
            env["SHIPIT_TEST_PG_URL"] ?? "postgres://shipit@127.0.0.1:15432/shipit", field: "SHIPIT_TEST_PG_URL")
        t.passwordFile = env["SHIPIT_TEST_PG_PASSWORD_FILE"] ?? "/tmp/shipit-pg/pw"
        return t
    }

    /// A fresh, empty ledger.
    public func make() async throws -> Ledger {
        switch self {
        case .sqlite: return try SQLiteLedger(path: Local.tempDir("ledger") + "/sub/ledger.sqlite")
        case .postgres:
            var t = Self.pgTarget
            t.schema = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
            return try await PostgresLedger.connect(t)
        }
    }
}
