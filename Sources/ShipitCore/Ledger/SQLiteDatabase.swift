import CSQLite
import Dispatch

/// A value SQLite can bind: the ledger's columns are text, integers and reals.
public protocol SQLiteBindable: Sendable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32
}

extension String: SQLiteBindable {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_text(statement, index, self, -1, SQLiteDatabase.transient)
    }
}
extension Int: SQLiteBindable {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_int64(statement, index, Int64(self))
    }
}
extension Int32: SQLiteBindable {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_int64(statement, index, Int64(self))
    }
}
extension Int64: SQLiteBindable {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_int64(statement, index, self)
    }
}
extension Double: SQLiteBindable {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_double(statement, index, self)
    }
}
extension Bool: SQLiteBindable {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_int64(statement, index, self ? 1 : 0)
    }
}

/// One SQLite connection over the C API (the system's libsqlite3), used from one serial queue.
/// A small layer instead of GRDB: GRDB links all of Foundation (NSNumber, NSRegularExpression,
/// NSDecimalNumber…), which brought CoreFoundation and ICU into every run — about 14 MB of binary
/// and several MiB of resident memory for a ledger that needs prepared statements and rows.
public final class SQLiteDatabase: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let code: Int32
        public let message: String
        public var description: String { message }
    }

    /// A result row, read by position.
    public struct Row {
        let statement: OpaquePointer

        public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(statement, i) == SQLITE_NULL }

        public func text(_ i: Int32) -> String? {
            guard !isNull(i), let p = sqlite3_column_text(statement, i) else { return nil }
            return String(
                decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(statement, i))), as: UTF8.self)
        }

        public func double(_ i: Int32) -> Double? { isNull(i) ? nil : sqlite3_column_double(statement, i) }
        public func int(_ i: Int32) -> Int64? { isNull(i) ? nil : sqlite3_column_int64(statement, i) }
    }

    /// SQLITE_TRANSIENT: SQLite copies bound text before the Swift string goes away.
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private let handle: OpaquePointer
    /// Every access runs here, one at a time: the connection is not shared across threads, and a
    /// write waiting on another process's lock (busy timeout) blocks no Swift concurrency thread.
    private let queue = DispatchQueue(label: "shipit.ledger.sqlite")
    /// Prepared statements by SQL text: the same few inserts run for every step of every host.
    private var cache: [String: OpaquePointer] = [:]

    public init(path: String, busyTimeoutMilliseconds: Int32 = 10_000) throws {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw Failure(code: rc, message: message)
        }
        handle = db
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        for s in cache.values { sqlite3_finalize(s) }
        sqlite3_close_v2(handle)
    }

    /// Runs `body` on the connection's queue.
    public func access<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, Error>) in
            queue.async { cont.resume(with: Result { try body(self) }) }
        }
    }

    /// Runs `body` on the connection's queue and waits (opening, migrations, tests).
    public func accessNow<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try queue.sync { try body(self) }
    }

    /// `body` inside BEGIN IMMEDIATE … COMMIT (rolled back if it throws).
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// One or more statements without arguments (schema, pragmas).
    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        guard rc == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(error)
            throw Failure(code: rc, message: message)
        }
    }

    /// One statement with arguments, run to its end.
    public func run(_ sql: String, _ arguments: [(any SQLiteBindable)?] = []) throws {
        try each(sql, arguments) { _ in }
    }

    /// Each result row of one statement.
    public func each(_ sql: String, _ arguments: [(any SQLiteBindable)?] = [], _ body: (Row) throws -> Void) throws {
        let (s, cached) = try prepared(sql)
        defer {
            if cached {
                sqlite3_reset(s)
                sqlite3_clear_bindings(s)
            } else {
                sqlite3_finalize(s)
            }
        }
        for (i, value) in arguments.enumerated() {
            let index = Int32(i + 1)
            let rc = value.map { $0.bind(to: s, at: index) } ?? sqlite3_bind_null(s, index)
            guard rc == SQLITE_OK else {
                throw Failure(code: rc, message: "\(lastMessage) (binding \(index) of: \(sql.prefix(80)))")
            }
        }
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw Failure(code: rc, message: "\(lastMessage) (in: \(sql.prefix(80)))") }
            try body(Row(statement: s))
        }
    }

    /// The first column of the first row (nil: no row, or NULL).
    public func text(_ sql: String, _ arguments: [(any SQLiteBindable)?] = []) throws -> String? {
        try firstValue(sql, arguments) { $0.text(0) }
    }

    public func double(_ sql: String, _ arguments: [(any SQLiteBindable)?] = []) throws -> Double? {
        try firstValue(sql, arguments) { $0.double(0) }
    }

    public func int(_ sql: String, _ arguments: [(any SQLiteBindable)?] = []) throws -> Int64? {
        try firstValue(sql, arguments) { $0.int(0) }
    }

    private func firstValue<T>(_ sql: String, _ arguments: [(any SQLiteBindable)?], _ read: (Row) -> T?) throws -> T? {
        var out: T?
        var seen = false
        try each(sql, arguments) { r in
            if !seen {
                out = read(r)
                seen = true
            }
        }
        return out
    }

    public var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    private var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// The statement for `sql`, and whether it stays cached (else the caller finalizes it).
    private func prepared(_ sql: String) throws -> (OpaquePointer, Bool) {
        if let s = cache[sql] { return (s, true) }
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &s, nil)
        guard rc == SQLITE_OK, let s else { throw Failure(code: rc, message: "\(lastMessage) (in: \(sql.prefix(80)))") }
        // Statements built per query (IN lists, filters) are not all kept: the cache stays small.
        guard cache.count < 64 else { return (s, false) }
        cache[sql] = s
        return (s, true)
    }
}
