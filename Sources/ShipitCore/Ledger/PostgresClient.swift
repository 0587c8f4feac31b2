import Dispatch
import FoundationEssentials
import Glibc
import SSH

/// A PostgreSQL connection through libpq, PostgreSQL's own client library, loaded when a shared
/// ledger is configured (dlopen): shipit needs no PostgreSQL library otherwise, and links no
/// network stack for it. Every call runs on the connection's own serial queue (libpq blocks).
final class PostgresClient: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let message: String
        /// SQLSTATE of a server error ("28P01": wrong password); nil for a connection error.
        let state: String?
        var description: String { message }
    }

    /// A query's rows, as the text libpq returns (parameters and results in text format).
    struct Rows: Sendable {
        let values: [[String?]]
        var count: Int { values.count }
        func text(_ row: Int, _ col: Int) -> String? { values[row][col] }
        func int(_ row: Int, _ col: Int) -> Int? { text(row, col).flatMap { Int($0) } }
        func double(_ row: Int, _ col: Int) -> Double? { text(row, col).flatMap { Double($0) } }
        /// PostgreSQL's boolean text is `t`/`f`.
        func bool(_ row: Int, _ col: Int) -> Bool? { text(row, col).map { $0 == "t" || $0 == "true" || $0 == "1" } }
    }

    private let conn: OpaquePointer
    private let pq: LibPQ
    private let queue = DispatchQueue(label: "shipit.ledger.postgres")

    /// Connects (bounded by `timeout`, whole seconds, at least 2: libpq's granularity).
    static func connect(_ target: LedgerLocation.PostgresTarget, password: String?, timeout: Double) async throws
        -> PostgresClient
    {
        let pq = try LibPQ.shared()
        var params: [(String, String)] = [
            ("host", target.host), ("port", String(target.port)), ("user", target.user), ("dbname", target.database),
            ("connect_timeout", String(max(2, Int(timeout.rounded(.up))))), ("client_encoding", "UTF8"),
            ("application_name", "shipit"),
        ]
        if let password { params.append(("password", password)) }
        params += tlsParameters(target)
        let keys = params.map(\.0)
        let values = params.map(\.1)
        return try await withCheckedThrowingContinuation { cont in
            // libpq's connect blocks: on a thread of its own, not one of Swift concurrency's.
            DetachedThread.start {
                cont.resume(
                    with: Result {
                        let conn = CStringArray.withConst(keys) { k in
                            CStringArray.withConst(values) { v in pq.connectdbParams(k, v, 0) }
                        }
                        guard let conn else { throw Failure(message: "out of memory", state: nil) }
                        guard pq.status(conn) == 0 else {
                            let message = String(cString: pq.errorMessage(conn)).trimmed()
                            pq.finish(conn)
                            throw Failure(message: message, state: nil)
                        }
                        return PostgresClient(conn: conn, pq: pq)
                    })
            }
        }
    }

    /// The URL's TLS settings as libpq's own parameters, with libpq's meaning. Checking modes
    /// without `sslrootcert` use the system's CA bundle (libpq's default, ~/.postgresql/root.crt, is
    /// rarely there and its absence fails every connection).
    static func tlsParameters(
        _ t: LedgerLocation.PostgresTarget, systemBundle: String = "/etc/ssl/certs/ca-certificates.crt"
    ) -> [(String, String)] {
        var params = [("sslmode", t.sslMode.rawValue)]
        if let root = t.sslRootCert {
            params.append(("sslrootcert", root))
        } else if t.sslMode.verifies, access(systemBundle, R_OK) == 0 {
            params.append(("sslrootcert", systemBundle))
        }
        if let cert = t.sslCert, let key = t.sslKey { params += [("sslcert", cert), ("sslkey", key)] }
        return params
    }

    private init(conn: OpaquePointer, pq: LibPQ) {
        self.conn = conn
        self.pq = pq
    }

    deinit { pq.finish(conn) }

    /// Runs one statement with `$1…` parameters (nil is NULL) and returns its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) async throws -> Rows {
        try await withCheckedThrowingContinuation { cont in
            queue.async { cont.resume(with: Result { try self.querySync(sql, parameters) }) }
        }
    }

    private func querySync(_ sql: String, _ parameters: [String?]) throws -> Rows {
        let result = CStringArray.withConst(parameters) { values in
            pq.execParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw Failure(message: String(cString: pq.errorMessage(conn)).trimmed(), state: nil) }
        defer { pq.clear(result) }
        let status = pq.resultStatus(result)
        guard status == 1 || status == 2 else {  // PGRES_COMMAND_OK, PGRES_TUPLES_OK
            let primary = pq.resultErrorField(result, 77).map { String(cString: $0) }  // 'M'
            let state = pq.resultErrorField(result, 67).map { String(cString: $0) }  // 'C'
            let message = primary ?? String(cString: pq.resultErrorMessage(result)).trimmed()
            throw Failure(
                message: message.isEmpty ? String(cString: pq.errorMessage(conn)).trimmed() : message, state: state)
        }
        let rows = Int(pq.ntuples(result))
        let cols = Int(pq.nfields(result))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            row.reserveCapacity(cols)
            for c in 0..<cols {
                if pq.getisnull(result, Int32(r), Int32(c)) != 0 {
                    row.append(nil)
                    continue
                }
                let p = pq.getvalue(result, Int32(r), Int32(c))!
                let n = Int(pq.getlength(result, Int32(r), Int32(c)))
                row.append(
                    p.withMemoryRebound(to: UInt8.self, capacity: n) {
                        String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
                    })
            }
            out.append(row)
        }
        return Rows(values: out)
    }
}
