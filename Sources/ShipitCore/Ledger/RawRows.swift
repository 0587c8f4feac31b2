import GRDB
import GRDBSQLite

/// Reads result rows straight from SQLite's C API, inside a GRDB database access. For the hot
/// read path of `changes` only; everything else goes through GRDB's `Row`.
enum RawRows {
    struct Row {
        let statement: SQLiteStatement

        func isNull(_ i: Int32) -> Bool { sqlite3_column_type(statement, i) == SQLITE_NULL }

        func text(_ i: Int32) -> String? {
            guard !isNull(i), let p = sqlite3_column_text(statement, i) else { return nil }
            return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(statement, i))), as: UTF8.self)
        }

        func double(_ i: Int32) -> Double? { isNull(i) ? nil : sqlite3_column_double(statement, i) }
        func int(_ i: Int32) -> Int64? { isNull(i) ? nil : sqlite3_column_int64(statement, i) }
    }

    static func each(_ db: Database, _ sql: String, _ arguments: StatementArguments, _ body: (Row) throws -> Void) throws {
        let statement = try db.makeStatement(sql: sql)
        try statement.setArguments(arguments)
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
            }
            try body(Row(statement: s))
        }
    }
}
