import Foundation
import ShipitCore
import TestSupport
import Testing

/// Issue 28, item 8: a number or duration on the command line that the parser accepts but no
/// run can use (inf, nan, negative, 1e300, an Int64 that overflows once multiplied, a duration
/// past any date) is a usage error naming the flag (exit 2), never a crash. Every command's numeric
/// flags, through the real binary. No host is contacted: the hosts named do not exist.
@Suite("numbers from flags are range-checked")
struct FlagRangeTests {
    /// The binary next to this checkout (the test hosts are not needed).
    static let bin: ShipitBinary = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return ShipitBinary(path: url.path + "/.build/debug/shipit")
    }()

    static let config: String = {
        let dir = Local.tempDir("flag-range")
        try! "app: t\nhosts: [web-1]\ndeploy_to: /srv/t\nrollout: {steps: [1]}\n".write(
            toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        try! FileManager.default.createDirectory(atPath: dir + "/release", withIntermediateDirectories: true)
        return dir
    }()

    static let seconds = ["inf", "-inf", "nan", "-1", "1e300", "922337203685477581", "99999999999999999999"]
    static let counts = ["-1", "922337203685477581", "9223372036854775807", "99999999999999999999", "inf", "1e3"]
    static let durations = [
        "infd", "inf", "nanh", "-1h", "1e300s", "9223372036854775807w", "922337203685477581d", "99999d",
    ]

    /// (command words, the flag, its hostile values, arguments after the flag)
    static let table: [(args: [String], flag: String, values: [String])] = {
        let c = ["--config", config + "/shipit.yml"]
        let exec = ["exec", "--hosts", "web-1", "--ssh-config", "none"]
        return [
            (exec, "--connect-timeout", seconds + ["0"]),
            (exec, "--timeout", seconds + ["0"]),
            (exec, "--port", counts + ["0", "65536"]),
            (exec, "--parallel", counts + ["0"]),
            (["deploy"] + c + ["--from", config + "/release"], "--lock-wait", counts),
            (["deploy"] + c + ["--from", config + "/release"], "--deadline", seconds + ["0"]),
            (["deploy"] + c + ["--from", config + "/release"], "--bake", seconds),
            (["deploy"] + c + ["--from", config + "/release"], "--connect-timeout", seconds),
            (["rollback"] + c, "--lock-wait", counts),
            (["rollout", "promote"] + c, "--deadline", seconds),
            (["rollout", "abort"] + c, "--lock-wait", counts),
            (["changes"] + c, "--since", durations),
            (["changes"] + c, "--limit", counts),
            (["logs"] + c, "--since", durations),
            (["logs"] + c, "--max-bytes", counts),
            (["triage"] + c, "--since", durations),
            (["stats"] + c, "--since", durations),
            (["check"] + c, "--min-free", counts),
            (["check"] + c, "--parallel", counts),
            (["status"] + c, "--port", counts),
            (["maintenance", "on"] + c, "--retry-after", counts),
        ]
    }()

    @Test(arguments: table.indices)
    func aHostileNumberIsAUsageErrorNamingTheFlag(_ i: Int) async throws {
        let row = Self.table[i]
        for value in row.values {
            // `--flag=value`: a leading `-` is the value, not another flag.
            var args = row.args + ["\(row.flag)=\(value)"]
            if row.args.first == "exec" { args += ["--", "true"] }
            let r = try await Self.bin.run(args, environment: ["HOME": Self.config, "PATH": "/usr/bin:/bin"])
            #expect(r.status == ShipitExit.usage.rawValue, "\(row.flag)=\(value): exit \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(row.flag), "\(row.flag)=\(value): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(row.flag)=\(value): \(r.stderr)")
        }
    }

    /// The bounds themselves still pass the flag check (the run then fails elsewhere: no host).
    @Test func valuesInRangeAreNotRefused() async throws {
        for (flag, value) in [
            ("--connect-timeout", "0.1"), ("--timeout", "86400"), ("--port", "65535"), ("--parallel", "1000"),
        ] {
            let r = try await Self.bin.run(
                ["exec", "--hosts", "web-1", "--ssh-config", "none", "\(flag)=\(value)", "--", "true"],
                environment: ["HOME": Self.config, "PATH": "/usr/bin:/bin"])
            #expect(!r.stderr.contains(flag + ":"), "\(flag)=\(value): \(r.stderr)")
            #expect(r.status != ShipitExit.usage.rawValue, "\(flag)=\(value): \(r.stderr)")
        }
    }
}
