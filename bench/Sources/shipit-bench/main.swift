// Measurements behind bench/run.sh that need shipit's own modules:
//   shipit-bench upload HOST USER IDENTITY KNOWN_HOSTS FILE scp|sftp|stream → "seconds bytes"
//     (stream: the file on the stdin of `cat > FILE`, as a deploy streams its artifact)
//   shipit-bench ledger-fill LEDGER APP ATTEMPTS                       → fills a ledger (10 steps, 3 hosts per attempt, over 365 days)
//   shipit-bench ledger-query CONFIG DAYS [LIMIT]                      → "query_ms entries" of the `changes` query (ledger only)
//   shipit-bench deploy CONFIG DIR HOSTS ledger|none                   → "seconds" of one deploy (artifact built before the clock)
import Foundation
import SSH
import ShipitCore

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("shipit-bench: \(message)\n".utf8))
    exit(2)
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

let args = CommandLine.arguments
switch args.count > 1 ? args[1] : "" {
case "upload":
    guard args.count == 8, args[7] == "stream" || UploadMethod(rawValue: args[7]) != nil else { fail("usage: upload HOST USER IDENTITY KNOWN_HOSTS FILE scp|sftp|stream") }
    let options = SSHOptions(authentication: [.privateKey(path: args[4])], knownHostsPath: args[5])
    let session = try await SSHSession.connect(to: SSHTarget(host: args[2], user: args[3]), options: options)
    let remote = "/tmp/shipit-bench-\(args[7])-\(getpid())"
    let start = ContinuousClock.now
    let bytes: Int64
    if let method = UploadMethod(rawValue: args[7]) {
        bytes = try await session.upload(localPath: args[6], remotePath: remote, method: method, timeout: 300)
    } else {
        let r = try await session.exec(ProcessInfo.processInfo.environment["BENCH_SINK"].map { "\($0) > \(remote)" } ?? "cat > \(remote)", stdinPath: args[6], timeout: 300)
        guard r.status.succeeded else { fail("stream: \(r.stderrText)") }
        bytes = Int64((try? FileManager.default.attributesOfItem(atPath: args[6])[.size] as? Int) ?? 0)
    }
    let elapsed = ContinuousClock.now - start
    _ = try await session.exec("rm -f \(remote)")
    await session.close()
    print(String(format: "%.4f %d", seconds(elapsed), bytes))

case "ledger-fill":
    guard args.count == 5, let n = Int(args[4]) else { fail("usage: ledger-fill LEDGER APP ATTEMPTS") }
    try LedgerFill.fill(path: args[2], app: args[3], attempts: n)

case "ledger-query":
    guard args.count >= 4, let days = Double(args[3]) else { fail("usage: ledger-query CONFIG DAYS [LIMIT]") }
    let limit = args.count > 4 ? Int(args[4]) ?? ChangesQuery.defaultLimit : ChangesQuery.defaultLimit
    let config = try DeployConfig.load(file: args[2])
    let start = ContinuousClock.now
    let (ledger, status) = await LedgerStore.openForReading(config)
    if ProcessInfo.processInfo.environment["SHIPIT_BENCH_DETAIL"] != nil, let ledger {
        let t0 = ContinuousClock.now
        let rows = try await ledger.attempts(LedgerQuery(from: Date().addingTimeInterval(-days * 86400), app: config.app, stage: .some(nil)))
        FileHandle.standardError.write(Data("open \(seconds(t0 - start) * 1000) ms, attempts() \(seconds(ContinuousClock.now - t0) * 1000) ms for \(rows.count)\n".utf8))
    }
    let fleet = Fleet(hosts: config.hosts, settings: config.connection)
    let t = await ChangesQuery(from: Date().addingTimeInterval(-days * 86400), askHosts: false, limit: limit)
        .run(config: config, ledger: ledger, ledgerStatus: status, transport: SSHTransport(fleet: fleet))
    print(String(format: "%.2f %d", seconds(ContinuousClock.now - start) * 1000, t.entries.count))

case "deploy":
    guard args.count == 6, ["ledger", "none"].contains(args[5]) else { fail("usage: deploy CONFIG DIR HOSTS ledger|none") }
    var config = try DeployConfig.load(file: args[2])
    config.hosts = args[4].split(separator: ",").map(String.init)
    let work = NSTemporaryDirectory() + "shipit-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: work) }
    let artifact = try Artifact.build(from: .directory(args[3]), workDir: work)
    let ledger: Ledger? = args[5] == "ledger" ? try await LedgerStore.openForWriting(config) : nil
    let start = ContinuousClock.now
    let report = await withFleet(config) { await Deployment(config: config, transport: $0, ledger: ledger, notify: { _ in }).deploy(artifact) }
    let elapsed = seconds(ContinuousClock.now - start)
    guard report.phase == .succeeded else { fail("deploy \(report.phase): \(report.summaryError ?? "")") }
    print(String(format: "%.4f", elapsed))

default:
    fail("usage: shipit-bench upload|ledger-fill|ledger-query|deploy …")
}
