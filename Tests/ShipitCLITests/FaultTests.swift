import Foundation
import ShipitCore
import TestSupport
import Testing

/// Faults injected into real deploys (issue 9's suite, first cases). Each asserts where every host
/// ends up, what the ledger says, and that locks are released. Hosts that a case breaks are hosts
/// of its own (127.0.0.4x), so parallel tests are not disturbed.
@Suite("fault injection on real sshd hosts")
struct FaultTests {
    let bin = ShipitBinary()
    let hosts = TestHosts.current

    @Test func aChangedHostKeyIsRefusedBeforeAnyChange() async throws {
        let addr = "127.0.0.42"
        try await hosts.harness(["start-host", addr], environment: [:])
        let f = try DeployFixture(targets: [addr])
        try await withCleanup({
            await f.cleanUp()
            _ = try? await hosts.harness(["stop-host", addr], environment: [:])
        }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            // The deployer's known_hosts as it was; then the host gets a new key.
            let known = Local.tempDir("kh") + "/known_hosts"
            try FileManager.default.copyItem(atPath: hosts.knownHosts, toPath: known)
            try await hosts.harness(["stop-host", addr], environment: [:])
            try await Local.run([
                "sh", "-c",
                "rm -f '\(hosts.stateDir)/hosts/\(addr)/ssh_host_ed25519_key' '\(hosts.stateDir)/hosts/\(addr)/ssh_host_ed25519_key.pub'",
            ])
            try await hosts.harness(["start-host", addr], environment: [:])

            let r = try await f.shipit(["deploy", "--from", f.release("v2"), "--known-hosts", known])
            #expect(r.status == ShipitExit.preflightFailed.rawValue, "\(r.stdout)")
            #expect(r.stdout.lowercased().contains("host key"))
            // The restarted host has a fresh /srv: refused before any change means nothing was created.
            #expect(try await f.sh(addr, "test -e \(f.deployTo) && echo touched || echo untouched") == "untouched\n")
        }
    }

    @Test func sigtermDuringTheSwitchRollsEveryHostBack() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            // The post-switch hook (every host switched and smoke-tested) parks until the signal is sent.
            let (entered, go) = try f.parkingHook("post-switch")
            let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2")])
            try p.run()
            try await DeployFixture.waitForFile(entered)
            p.stopIfRunning(SIGTERM)
            try await Task.sleep(for: .milliseconds(200))
            FileManager.default.createFile(atPath: go, contents: nil)
            let status = await ShipitBinary.wait(p)
            #expect(status == ShipitExit.interrupted.rawValue)
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.sh(h, "test -e \(f.deployTo)/.shipit/lock && echo LOCKED || echo free") == "free\n")
            }
            let t = try ShipitBinary.decode(
                Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
            #expect(t.entries.last?.outcome == "rolled-back")
            #expect(t.entries.last?.error?.contains("interrupted") == true)
        }
    }

    @Test func aFullDiskDuringExtractChangesNothing() async throws {
        let addr = "127.0.0.43"
        try await hosts.harness(["start-host", addr], environment: ["SHIPIT_SRV_SIZE": "16m"])
        let f = try DeployFixture(targets: [addr], extraYAML: "disk_factor: 0")
        try await withCleanup({
            await f.cleanUp()
            _ = try? await hosts.harness(["stop-host", addr], environment: [:])
        }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let big = try await f.bigRelease("v2", bytes: 9_000_000)
            let r = try await f.shipit(["deploy", "--from", big])
            #expect(r.status == ShipitExit.failure.rawValue, "\(r.stdout)")
            #expect(r.stdout.contains("upload FAILED"))
            #expect(try await f.served(addr) == "hello from releases-example v1")
            // Nothing half-written is left behind, and the lock is released.
            #expect(
                try await f.sh(
                    addr,
                    "cd \(f.deployTo) && ls releases | wc -l; ls .shipit | grep -c -e upload- -e lock -e '.tmp' || true"
                ) == "1\n0\n")
            #expect(try await f.shipit(["verify"]).status == 0)
        }
    }

    @Test func aHostThatAcceptsAndNeverSpeaksTimesOutInPreflight() async throws {
        // A TCP listener on 127.0.0.44:22 that never answers (no SSH banner).
        let silent = Process()
        silent.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        silent.arguments = [
            "-c",
            "import socket,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.44', 22)); s.listen(8)\nc=[]\nwhile True: c.append(s.accept())",
        ]
        // Its own output streams: an orphan holding the test runner's pipes would hang `swift test`.
        silent.standardOutput = FileHandle.nullDevice
        silent.standardError = FileHandle.nullDevice
        silent.standardInput = FileHandle.nullDevice
        try silent.run()
        defer {
            silent.stopIfRunning(SIGKILL)
            silent.waitUntilExit()
        }
        try await Task.sleep(for: .milliseconds(300))
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let start = Date()
            let r = try await f.shipit([
                "deploy", "--from", f.release("v1"), "--hosts", (f.targets + ["127.0.0.44"]).joined(separator: ","),
                "--connect-timeout", "2",
            ])
            #expect(r.status == ShipitExit.preflightFailed.rawValue, "\(r.stdout)")
            #expect(r.stdout.contains("127.0.0.44"))
            #expect(Date().timeIntervalSince(start) < 30)  // no hang (the connect timeout is 2 s)
            for h in f.targets { #expect(try await f.currentRelease(h) == "") }
        }
    }
}
