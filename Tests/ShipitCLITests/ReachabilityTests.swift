import Foundation
import ShipitCore
import TestSupport
import Testing

/// A host with a network of its own, listed by a name it resolves to 127.0.1.1 (Debian's default
/// for its own name): a green deploy must mean the public port answers from the deployer.
@Suite("reachable means reachable: a host whose own name is 127.0.1.1", .serialized)
struct ReachabilityTests {
    static let name = "web-a"
    static let address = "10.213.1.2"
    let hosts = TestHosts.current

    private func harness(_ args: [String]) async throws -> String {
        try await Local.run(["bash", hosts.repoRoot + "/scripts/nethost.sh"] + args)
    }

    /// shipit run where `web-a` resolves to the host's address, as the deployer's resolver would
    /// have it (a private mount namespace with its own /etc/hosts).
    private func shipit(_ f: DeployFixture, _ args: [String]) async throws -> ShipitBinary.Run {
        let hostsFile = try await harness(["hosts", Self.name]).trimmingCharacters(in: .whitespacesAndNewlines)
        let words = args.prefix { !$0.hasPrefix("-") }
        let argv = Array(words) + ["--config", f.configFile] + args.dropFirst(words.count)
        return try await ShipitBinary(path: "/usr/bin/unshare").run(
            [
                "--mount", "sh", "-c", "mount --bind \"$1\" /etc/hosts && shift && exec \"$@\"", "sh", hostsFile,
                ShipitBinary(hosts: hosts).path,
            ] + argv)
    }

    /// GET / on the host's public port from the deployer, as a user outside the host.
    private func fromOutside(_ port: Int) async -> String {
        (try? await Local.run(["curl", "-s", "--max-time", "3", "http://\(Self.address):\(port)/"])) ?? ""
    }

    private func withHost(_ body: () async throws -> Void) async throws {
        _ = try await harness(["up", Self.name, "1"])
        try await withCleanup({ _ = try? await harness(["down", Self.name]) }) {
            // The premise: on the host, its own name is the loopback.
            let s = try await hosts.connect(to: Self.address)
            let seen = try await s.exec("getent hosts \(Self.name)").stdoutText
            await s.close()
            #expect(seen.hasPrefix("127.0.1.1"), "\(seen)")
            try await body()
        }
    }

    @Test(arguments: [true, false])
    func theDefaultListenerAnswersFromOutside(traffic: Bool) async throws {
        try await withHost {
            let f = try DeployFixture(
                targets: [Self.name], healthDeadline: 5, extraYAML: traffic ? "traffic: {proxy: nginx, drain: 1}" : "",
                bindReached: false)
            // No cleanUp: the test process cannot resolve the name, and the host's /srv and
            // processes go with its namespace.
            do {
                let r = try await shipit(f, ["deploy", "--from", f.release("v1")])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                #expect(await fromOutside(f.port).contains("releases-example v1"))
                // The check was made from the deployer, to the address it reached the host on.
                let dry = try await shipit(f, ["deploy", "--dry-run", "--from", f.release("v2")])
                #expect(
                    dry.stdout.contains("http://\(Self.name):\(f.port)/health/live")
                        && dry.stdout.contains("from the deployer"), "\(dry.stdout)")
            }
        }
    }

    /// A listener narrowed to the loopback, which only the host reaches: refused before any host
    /// is touched, naming the address (a check from the deployer would mean nothing); it never
    /// reports success for an endpoint the deployer cannot reach. Said on purpose
    /// (`check_from: host`), it deploys.
    @Test func aListenerTheDeployerCannotReachFailsTheDeploy() async throws {
        try await withHost {
            let f = try DeployFixture(
                targets: [Self.name], healthDeadline: 2, extraYAML: "traffic: {proxy: nginx, drain: 1}",
                bindReached: false)
            // No cleanUp: the test process cannot resolve the name, and the host's /srv and
            // processes go with its namespace.
            do {
                var yaml = try String(contentsOfFile: f.configFile, encoding: .utf8)
                yaml = yaml.replacingOccurrences(of: "health:\n", with: "health:\n  address: 127.0.1.1\n")
                try yaml.write(toFile: f.configFile, atomically: true, encoding: .utf8)
                // Refused before any host: a loopback listener checked from the deployer.
                let r = try await shipit(f, ["deploy", "--from", f.release("v1")])
                #expect(r.status == ShipitExit.usage.rawValue, "\(r.stdout)\(r.stderr)")
                #expect(r.stderr.contains("health.address: 127.0.1.1 is a loopback address"), "\(r.stderr)")
                #expect(await fromOutside(f.port).isEmpty)
                // Said on purpose: checked from the host, the same listener passes.
                try (yaml.replacingOccurrences(of: "health:\n", with: "health:\n  check_from: host\n")).write(
                    toFile: f.configFile, atomically: true, encoding: .utf8)
                let onHost = try await shipit(f, ["deploy", "--from", f.release("v1")])
                #expect(onHost.status == 0, "\(onHost.stdout)\(onHost.stderr)")
            }
        }
    }
}
