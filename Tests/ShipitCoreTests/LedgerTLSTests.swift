import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The shared ledger's TLS: libpq's `sslmode` values passed through with libpq's meaning, against
/// a real PostgreSQL that accepts TLS connections only, with a server certificate from a throwaway
/// CA (TLSPostgres). `verify-full` accepts the right name and refuses a wrong one.
@Suite("shared ledger TLS against a real PostgreSQL")
struct LedgerTLSTests {
    func target(_ pg: TLSPostgres, host: String = "localhost", _ query: String) throws -> LedgerLocation.PostgresTarget
    {
        var t = try LedgerLocation.PostgresTarget.parse(pg.url(host: host, query), field: "ledger.url")
        t.passwordFile = pg.passwordFile
        return t
    }

    /// nil when it connected, else the error's text.
    func connect(_ t: LedgerLocation.PostgresTarget) async -> String? {
        do {
            let ledger = try await PostgresLedger.connect(t, timeout: 5)
            await ledger.close()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func verifyFullAcceptsTheRightNameAndRefusesAWrongOne() async throws {
        let pg = try await TLSPostgres(serverName: "localhost")
        try await withCleanup({ await pg.stop() }) {
            try await pg.start()
            let verified = "sslmode=verify-full&sslrootcert=\(pg.caCert)"
            let ok = await connect(try target(pg, verified))
            #expect(ok == nil, "\(ok ?? "")")
            // The server only takes TLS: no sslmode (libpq's prefer) and require get TLS too; disable is refused.
            #expect(await connect(try target(pg, "")) == nil)
            #expect(await connect(try target(pg, "sslmode=require")) == nil)
            #expect(await connect(try target(pg, "sslmode=verify-ca&sslrootcert=\(pg.caCert)")) == nil)
            let plain = await connect(try target(pg, "sslmode=disable"))
            #expect(plain?.contains("no encryption") == true, "\(plain ?? "connected without TLS")")
            // A CA that did not sign the server's certificate: refused.
            let untrusted = await connect(try target(pg, "sslmode=verify-full&sslrootcert=\(pg.otherCA)"))
            #expect(untrusted?.contains("certificate verify failed") == true, "\(untrusted ?? "connected")")

            // The server now presents a certificate for another name (from the same CA).
            try await pg.useCertificate(forName: "db.wrong.example")
            let wrongName = await connect(try target(pg, verified))
            #expect(
                wrongName?.contains("does not match host name") == true,
                "\(wrongName ?? "connected to a server with the wrong name")")
            // verify-ca checks the CA only: it still connects (why verify-full is the one to use).
            #expect(await connect(try target(pg, "sslmode=verify-ca&sslrootcert=\(pg.caCert)")) == nil)
        }
    }

    @Test func everyLibpqModeParsesAndAnUnknownOneIsRefusedNamingTheField() throws {
        for mode in ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] {
            let t = try LedgerLocation.PostgresTarget.parse("postgres://u@h/db?sslmode=\(mode)", field: "ledger.url")
            #expect(t.sslMode.rawValue == mode)
            #expect(PostgresClient.tlsParameters(t).first { $0.0 == "sslmode" }?.1 == mode)
        }
        #expect(try LedgerLocation.PostgresTarget.parse("postgres://u@h/db", field: "ledger.url").sslMode == .prefer)
        for bad in ["verify_full", "true", "", "VERIFY-FULL", "require;x"] {
            do {
                _ = try LedgerLocation.PostgresTarget.parse("postgres://u@h/db?sslmode=\(bad)", field: "ledger.url")
                Issue.record("sslmode=\(bad) was accepted")
            } catch {
                #expect("\(error)".contains("ledger.url") && "\(error)".contains("sslmode"), "\(error)")
            }
        }
        // Certificates: absolute paths; a client certificate with its key; a root certificate only where it is used.
        let t = try LedgerLocation.PostgresTarget.parse(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.crt&sslcert=/c.crt&sslkey=/c.key",
            field: "ledger.url")
        let params = PostgresClient.tlsParameters(t)
        #expect(params.map(\.0) == ["sslmode", "sslrootcert", "sslcert", "sslkey"])
        #expect(params.map(\.1) == ["verify-full", "/ca.crt", "/c.crt", "/c.key"])
        #expect(throws: ShipitError.self) {
            try LedgerLocation.PostgresTarget.parse(
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=ca.crt", field: "ledger.url")
        }
        #expect(throws: ShipitError.self) {
            try LedgerLocation.PostgresTarget.parse("postgres://u@h/db?sslcert=/c.crt", field: "ledger.url")
        }
        #expect(throws: ShipitError.self) {
            try LedgerLocation.PostgresTarget.parse(
                "postgres://u@h/db?sslmode=require&sslrootcert=/ca.crt", field: "ledger.url")
        }
        // Checking modes without a root certificate use the system's bundle.
        let system = try LedgerLocation.PostgresTarget.parse("postgres://u@h/db?sslmode=verify-ca", field: "ledger.url")
        #expect(
            PostgresClient.tlsParameters(system, systemBundle: "/etc/hostname").contains {
                $0 == ("sslrootcert", "/etc/hostname")
            })
    }
}
