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
    static func connect(host: String, port: Int, user: String, password: String?, database: String, tls: Bool, timeout: Double) async throws -> PostgresClient {
        let pq = try LibPQ.shared()
        var params: [(String, String)] = [("host", host), ("port", String(port)), ("user", user), ("dbname", database),
                                          ("connect_timeout", String(max(2, Int(timeout.rounded(.up))))), ("client_encoding", "UTF8"),
                                          ("application_name", "shipit")]
        if let password { params.append(("password", password)) }
        if tls {
            // Verified TLS (the server's certificate against the system's CAs, and its name).
            params.append(("sslmode", "verify-full"))
            if access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0 { params.append(("sslrootcert", "/etc/ssl/certs/ca-certificates.crt")) }
        } else {
            params.append(("sslmode", "disable"))
        }
        let keys = params.map(\.0), values = params.map(\.1)
        return try await withCheckedThrowingContinuation { cont in
            // libpq's connect blocks: on a thread of its own, not one of Swift concurrency's.
            DetachedThread.start {
                cont.resume(with: Result {
                    let conn = CStringArray.withConst(keys) { k in CStringArray.withConst(values) { v in pq.connectdbParams(k, v, 0) } }
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
            throw Failure(message: message.isEmpty ? String(cString: pq.errorMessage(conn)).trimmed() : message, state: state)
        }
        let rows = Int(pq.ntuples(result)), cols = Int(pq.nfields(result))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            row.reserveCapacity(cols)
            for c in 0..<cols {
                if pq.getisnull(result, Int32(r), Int32(c)) != 0 { row.append(nil); continue }
                let p = pq.getvalue(result, Int32(r), Int32(c))!
                let n = Int(pq.getlength(result, Int32(r), Int32(c)))
                row.append(p.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) })
            }
            out.append(row)
        }
        return Rows(values: out)
    }
}
