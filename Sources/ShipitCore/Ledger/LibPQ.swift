import Glibc
import ShipitSupport

/// libpq's entry points, looked up once in the system's libpq (Debian: libpq5).
struct LibPQ: @unchecked Sendable {
    typealias Conn = OpaquePointer
    typealias Result = OpaquePointer
    let connectdbParams:
        @convention(c) (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<UnsafePointer<CChar>?>, Int32) -> Conn?
    let status: @convention(c) (Conn) -> Int32
    let errorMessage: @convention(c) (Conn) -> UnsafePointer<CChar>
    let finish: @convention(c) (Conn) -> Void
    let execParams:
        @convention(c) (
            Conn, UnsafePointer<CChar>, Int32, UnsafePointer<UInt32>?, UnsafePointer<UnsafePointer<CChar>?>?,
            UnsafePointer<Int32>?, UnsafePointer<Int32>?, Int32
        ) -> Result?
    let resultStatus: @convention(c) (Result) -> Int32
    let resultErrorField: @convention(c) (Result, Int32) -> UnsafePointer<CChar>?
    let resultErrorMessage: @convention(c) (Result) -> UnsafePointer<CChar>
    let ntuples: @convention(c) (Result) -> Int32
    let nfields: @convention(c) (Result) -> Int32
    let getvalue: @convention(c) (Result, Int32, Int32) -> UnsafePointer<CChar>?
    let getisnull: @convention(c) (Result, Int32, Int32) -> Int32
    let getlength: @convention(c) (Result, Int32, Int32) -> Int32
    let clear: @convention(c) (Result) -> Void

    nonisolated(unsafe) private static var loaded: LibPQ?
    private static let lock = Lock()

    static func shared() throws -> LibPQ {
        try lock.withLock {
            if let loaded { return loaded }
            let l = try load()
            loaded = l
            return l
        }
    }

    private static func load() throws -> LibPQ {
        guard let handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libpq.so", RTLD_NOW | RTLD_LOCAL)
        else {
            throw PostgresClient.Failure(
                message:
                    "the PostgreSQL ledger needs PostgreSQL's client library, libpq (Debian/Ubuntu: apt install libpq5)",
                state: nil)
        }
        func f<T>(_ name: String) throws -> T {
            guard let p = dlsym(handle, name) else {
                throw PostgresClient.Failure(message: "libpq has no \(name)", state: nil)
            }
            return unsafeBitCast(p, to: T.self)
        }
        return LibPQ(
            connectdbParams: try f("PQconnectdbParams"),
            status: try f("PQstatus"),
            errorMessage: try f("PQerrorMessage"),
            finish: try f("PQfinish"),
            execParams: try f("PQexecParams"),
            resultStatus: try f("PQresultStatus"),
            resultErrorField: try f("PQresultErrorField"),
            resultErrorMessage: try f("PQresultErrorMessage"),
            ntuples: try f("PQntuples"),
            nfields: try f("PQnfields"),
            getvalue: try f("PQgetvalue"),
            getisnull: try f("PQgetisnull"),
            getlength: try f("PQgetlength"),
            clear: try f("PQclear"))
    }
}
