import Foundation
import ShipitCore

/// A large, realistic ledger for the `changes` benchmark: attempts spread evenly over a year,
/// 3 hosts and 10 steps each, a config change every 50 attempts, one in 20 rolled back.
enum LedgerFill {
    static func fill(path: String, app: String, attempts n: Int) throws {
        let ledger = try SQLiteLedger(path: path)
        let now = Date().timeIntervalSince1970
        let span = 365.0 * 86400
        let hosts = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
        let steps = ["preflight", "upload", "switch", "smoke test"]
        try ledger.db.accessNow { db in try db.transaction {
            for c in 0...(n / 50) {
                try db.run("INSERT OR IGNORE INTO configs (hash, settings) VALUES (?, ?)",
                           ["cfg\(c)", #"{"app":"\#(app)","health.deadline":"\#(c % 7 + 1)"}"#])
            }
            let attempt = "INSERT INTO attempts (id, app, strategy, operation, release_id, source, user, machine, pid, started_at, finished_at, outcome, state, error, changed_count, changed_files, config_hash) VALUES (?,?,'symlink',?,?,?,'ops','bench',1,?,?,?,?,?,?,?,?)"
            let host = "INSERT INTO attempt_hosts (attempt_id, host, previous, current, step, status) VALUES (?,?,?,?,?,?)"
            let step = "INSERT INTO steps (attempt_id, host, step, status, started_at, finished_at, exit_status, stderr_tail, message) VALUES (?,?,?,?,?,?,?,?,?)"
            var previous = ""
            for i in 0..<n {
                let t = now - span + span * Double(i) / Double(n)
                let id = String(format: "bench-%08d", i)
                let release = String(format: "r%08d", i)
                let failed = i % 20 == 19
                try db.run(attempt, [id, app, i % 10 == 9 ? "rollback" : "deploy", release, "/src/app", t, t + 1.5,
                                                failed ? "rolled-back" : "succeeded", failed ? "rolledBack" : "succeeded",
                                                failed ? "127.0.0.12 failed at smoke test: GET /health/ready → 503" : nil,
                                                3, #"["M app.py","M VERSION","A static/new.css"]"#, "cfg\(i / 50)"])
                for h in hosts {
                    try db.run(host, [id, h, previous, failed ? previous : release, "finish", "ok"])
                }
                // 10 step rows: 3 hosts × 3 steps + one state event.
                for (k, h) in hosts.enumerated() {
                    for s in steps.prefix(3) {
                        try db.run(step, [id, h, s, "ok", t + Double(k) * 0.01, t + 0.5, 0, nil, nil])
                    }
                }
                try db.run(step, [id, nil, "state", "info", t + 1, t + 1, nil, nil, "smokeTest → succeeded"])
                if !failed { previous = release }
            }
        } }
    }
}
