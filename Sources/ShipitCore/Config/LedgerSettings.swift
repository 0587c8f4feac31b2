import ShipitSupport

extension LedgerLocation {
    /// `ledger:` in shipit.yml: a SQLite file (`path`, default `.shipit/ledger.sqlite` beside the
    /// config) or a shared PostgreSQL ledger (`url`), and what messages show for it (the path, or
    /// the URL without its password).
    static func parse(_ lr: YAMLReader?, baseDir: String) throws -> (LedgerLocation, display: String) {
        var ledgerPath = FilePath.join(baseDir, ".shipit/ledger.sqlite")
        var ledger = LedgerLocation.sqlite(path: ledgerPath)
        if let lr {
            let m = try lr.mapping(allowed: ["path", "url", "password_env", "password_file"])
            if let p = m["path"] {
                guard m["url"] == nil else { throw p.fail("give 'path' (SQLite) or 'url' (PostgreSQL), not both") }
                ledgerPath = DeployConfig.expand(try p.string(), relativeTo: baseDir)
                ledger = .sqlite(path: ledgerPath)
            }
            if let u = m["url"] {
                let urlText = try u.string()
                var t: LedgerLocation.PostgresTarget
                do { t = try LedgerLocation.PostgresTarget.parse(urlText, field: u.path) } catch let e as ShipitError {
                    throw u.fail(e.message.replacing(u.path + ": ", with: ""))
                }
                if let e = m["password_env"] {
                    let name = try e.string()
                    guard RemoteCommand.isValidEnvName(name) else {
                        throw e.fail("expected an environment variable name")
                    }
                    t.passwordEnv = name
                }
                if let f = m["password_file"] {
                    t.passwordFile = DeployConfig.expand(try f.string(), relativeTo: baseDir)
                }
                ledger = .postgres(t)
                ledgerPath = t.display
            } else if m["password_env"] != nil || m["password_file"] != nil {
                throw lr.fail("password_env/password_file are for a PostgreSQL 'url'")
            }
        }
        return (ledger, ledgerPath)
    }
}
