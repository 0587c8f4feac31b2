import Foundation
import ShipitCore
import TestSupport
import Testing

/// `strategy: image` with real rootless podman on the real sshd hosts, pulling from the local registry.
@Suite("image deploys: podman, local registry, real sshd hosts")
struct ImageDeployTests {
    let bin = ShipitBinary()

    func timeline(_ f: ImageFixture) async throws -> Timeline {
        try ShipitBinary.decode(
            Timeline.self, try await f.shipit(["changes", "--since", "1h", "--json", "--no-hosts"]).stdout)
    }

    @Test func v1ThenV2ThenBrokenV3RollsBackThenRollbackToV1ByDigest() async throws {
        let f = try ImageFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--tag", "v1"]).status == 0)
            let r2 = try await f.shipit(["deploy", "--tag", "v2"])
            #expect(r2.status == 0, "\(r2.stdout)")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example image v2") }

            let r3 = try await f.shipit(["deploy", "--tag", "v3"])
            #expect(r3.status == ShipitExit.rolledBack.rawValue, "\(r3.stdout)")
            var t = try await timeline(f)
            let (v1, v2, v3) = (t.entries[0], t.entries[1], t.entries[2])
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example image v2")
                #expect(try await f.runningDigest(h) == v2.imageDigest)
                // The failed release's container is kept, stopped, for inspection.
                #expect(
                    try await f.podman(h, "container inspect --format '{{.State.Status}}' \(f.app)-\(v3.release)")
                        == "exited")
            }
            #expect(v3.outcome == "rolled-back")
            #expect([v1, v2, v3].allSatisfy { $0.imageDigest?.hasPrefix("sha256:") == true })

            // Rollback with no argument: the newest good release before v2 (not the failed v3), by digest.
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)")
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example image v1")
                #expect(try await f.runningDigest(h) == v1.imageDigest)
            }
            // And forward again by digest.
            let again = try await f.shipit(["rollback", "--to", try #require(v2.imageDigest)])
            #expect(again.status == 0, "\(again.stdout)")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example image v2") }
            t = try await timeline(f)
            #expect(t.entries.map(\.outcome) == ["succeeded", "succeeded", "rolled-back", "succeeded", "succeeded"])
            let status = try await f.shipit(["status"])
            #expect(status.status == 0, "\(status.stdout)")
        }
    }

    /// With a supervisor (`auto`, the default) the engine starts a container whose process was
    /// killed again (`--restart on-failure`); with `supervisor: none` it stays down, as before.
    @Test(arguments: ["auto", "none"])
    func aKilledContainerIsRestartedByTheEngineUnlessNone(supervisor: String) async throws {
        let f = try ImageFixture(extraYAML: "supervisor: \(supervisor)")
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--tag", "v1"]).status == 0)
            let h = f.targets[0]
            let name = try await f.podman(h, "ps --filter label=shipit.app=\(f.app) --format '{{.Names}}'")
            let pid = try await f.podman(h, "inspect --format '{{.State.Pid}}' \(name)")
            #expect(Int(pid) ?? 0 > 0, "\(name): pid '\(pid)'")
            // From outside, as the deploy user (rootless: the app runs under its uid).
            let s = try await f.hosts.connect(to: h)
            _ = try await s.exec("kill -9 \(pid)")
            await s.close()
            var answered = false
            for _ in 0..<50 where !answered {
                try await Task.sleep(for: .milliseconds(200))
                let out = try? await Local.run(["curl", "-s", "--max-time", "1", "http://\(h):\(f.port)/"])
                answered = out?.contains("hello from releases-example image v1") == true
            }
            let restarts = try await f.podman(h, "inspect --format '{{.RestartCount}}' \(name)")
            if supervisor == "none" {
                #expect(!answered, "nothing restarts a container without a supervisor")
                #expect(restarts == "0")
            } else {
                #expect(answered, "the container did not answer again within 10 s of kill -9")
                #expect(restarts == "1", "RestartCount \(restarts)")
            }
        }
    }

    @Test func aTagMovedInTheRegistryDoesNotChangeWhatRollbackRuns() async throws {
        let f = try ImageFixture()
        try await withCleanup({ await f.cleanUp() }) {
            // A tag of this test's own, so moving it cannot disturb other tests.
            let moving = "mv-\(f.app.suffix(6))"
            let repo = "\(ImageFixture.registry)/demo"
            try await Local.run(["podman", "tag", "\(repo):v1", "\(repo):\(moving)"])
            try await Local.run(["podman", "push", "--quiet", "--tls-verify=false", "\(repo):\(moving)"])
            #expect(try await f.shipit(["deploy", "--tag", moving]).status == 0)
            #expect(try await f.shipit(["deploy", "--tag", "v2"]).status == 0)
            let first = try await timeline(f).entries[0]

            // The tag now points at other content (the broken v3) in the registry.
            try await Local.run(["podman", "tag", "\(repo):v3", "\(repo):\(moving)"])
            try await Local.run(["podman", "push", "--quiet", "--tls-verify=false", "\(repo):\(moving)"])

            let back = try await f.shipit(["rollback", "--to", moving])
            #expect(back.status == 0, "\(back.stdout)")
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example image v1")
                #expect(try await f.runningDigest(h) == first.imageDigest)
            }
        }
    }

    @Test func anImageMissingFromTheRegistryFailsPreflightAndChangesNothing() async throws {
        let f = try ImageFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--tag", "v1"]).status == 0)
            let r = try await f.shipit(["deploy", "--tag", "no-such-tag"])
            #expect(r.status == ShipitExit.preflightFailed.rawValue, "\(r.stdout)")
            #expect(r.stdout.contains("pull"))
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example image v1")
                #expect(
                    try await f.podman(h, "ps -a --filter label=shipit.app=\(f.app) --format '{{.Names}}' | wc -l")
                        == "1")
            }
            let lock = try await bin.run(["lock", "status", "--config", f.configFile])
            #expect(lock.status == 0, "\(lock.stdout)")
        }
    }

    @Test func envFileIsPrivateAndSecretsStayOutOfOutputAndLedger() async throws {
        let secret = "s3cr3t-\(UUID().uuidString.prefix(8))"
        let dir = Local.tempDir("envfile")
        try "API_TOKEN=\(secret)\nGREETING=hi\n".write(toFile: dir + "/app.env", atomically: true, encoding: .utf8)
        let f = try ImageFixture(extraImageYAML: "  env_file: \(dir)/app.env\n  env: {MODE: demo}\n  keep_images: 2")
        try await withCleanup({ await f.cleanUp() }) {
            // A third good release: v2's content under a tag of this test's own.
            let third = "p-\(f.app.suffix(6))"
            let repo = "\(ImageFixture.registry)/demo"
            try await Local.run(["podman", "tag", "\(repo):v2", "\(repo):\(third)"])
            try await Local.run(["podman", "push", "--quiet", "--tls-verify=false", "\(repo):\(third)"])
            let runs = [
                try await f.shipit(["deploy", "--tag", "v1"]), try await f.shipit(["deploy", "--tag", "v2"]),
                try await f.shipit(["deploy", "--tag", third]),
            ]
            #expect(runs.map(\.status) == [0, 0, 0], "\(runs.map(\.stdout))")
            let h = f.targets[0]
            #expect(
                try await f.podman(
                    h, "exec \(f.app)-$(cat \(f.deployTo)/.shipit/image-current) sh -c 'echo $API_TOKEN $MODE'")
                    == "\(secret) demo")
            let mode = try await f.podman(h, "true; stat -c %a \(f.deployTo)/shared/.env-\(f.app)")
            #expect(mode == "600")
            // Never printed, never stored.
            #expect(!runs.contains { $0.stdout.contains(secret) || $0.stderr.contains(secret) })
            let ledger = try Data(contentsOf: URL(fileURLWithPath: f.dir + "/.shipit/ledger.sqlite"))
            #expect(ledger.range(of: Data(secret.utf8)) == nil)
            // keep_images 2: the oldest release (v1) is pruned; current and previous remain.
            let names = try await f.podman(h, "ps -a --filter label=shipit.app=\(f.app) --format '{{.Names}}' | sort")
            #expect(names.split(separator: "\n").count == 2)
            #expect(!names.contains("\(f.app)-v1-"))
            #expect(
                try await f.podman(h, "true; cut -d' ' -f1 \(f.deployTo)/.shipit/image-releases | cut -d- -f1 | xargs")
                    == "v2 p")
        }
    }
}

/// The env file uploaded over SFTP or SCP to a host that has one already: written over in place,
/// it kept the old file's mode (SFTP and SCP set a mode only on a file they create).
@Suite("image deploys: the env file at rest")
struct ImageEnvFileAtRestTests {
    @Test(arguments: ["sftp", "scp"])
    func anExistingEnvFileWithAWideModeIsReplacedByAPrivateOne(method: String) async throws {
        let dir = Local.tempDir("envfile-at-rest")
        try "API_TOKEN=first\n".write(toFile: dir + "/app.env", atomically: true, encoding: .utf8)
        let f = try ImageFixture(extraImageYAML: "  env_file: \(dir)/app.env")
        // The upload method as a stage overlay (the fixture's ssh: mapping stays).
        try "ssh: {upload: \(method)}\n".write(
            toFile: f.dir + "/shipit.\(method).yml", atomically: true, encoding: .utf8)
        try await withCleanup({ await f.cleanUp() }) {
            let h = f.targets[0]
            let env = "\(f.deployTo)/shared/.env-\(f.app)"
            let first = try await f.shipit(["deploy", "--stage", method, "--tag", "v1"])
            #expect(first.status == 0, "\(first.stdout)")
            // Someone (or an older shipit) left it readable by all.
            _ = try await f.podman(h, "true; chmod 644 \(env)")
            try "API_TOKEN=second\n".write(toFile: dir + "/app.env", atomically: true, encoding: .utf8)
            let second = try await f.shipit(["deploy", "--stage", method, "--tag", "v2"])
            #expect(second.status == 0, "\(second.stdout)")
            #expect(try await f.podman(h, "true; stat -c %a \(env)") == "600")
            #expect(try await f.podman(h, "true; cat \(env)") == "API_TOKEN=second")
            // No temporary file is left next to it.
            #expect(try await f.podman(h, "true; ls -a \(f.deployTo)/shared | grep -c part- || true") == "0")
        }
    }
}

/// A progressive rollout with the image strategy behind the traffic switch: the broken v3 is
/// stopped on the canary, which goes back to its warm v2 container; the other hosts never pull a
/// container of v3 into service.
@Suite("image deploys: rollout steps")
struct ImageRolloutTests {
    @Test func aBrokenImageStopsOnTheCanary() async throws {
        let f = try ImageFixture(
            extraYAML: """
                traffic: {proxy: nginx, drain: 1}
                rollout:
                  steps: [1, "100%"]
                  bake: 0.5
                """)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--tag", "v1", "--bake", "0"]).status == 0)
            let v2 = try await f.shipit(["deploy", "--tag", "v2", "--bake", "0"])
            #expect(v2.status == 0, "\(v2.stdout.suffix(2000))")
            #expect(v2.stdout.contains("succeeded in 2 rollout steps"))
            let r3 = try await f.shipit(["deploy", "--tag", "v3"])
            // v3 is never ready: it fails on the canary's idle slot, before any request; nothing
            // was switched, and the later step never started.
            #expect(r3.status != 0, "\(r3.stdout.suffix(2000))")
            #expect(r3.stdout.contains("step 2 (not started)"))
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example image v2") }
        }
    }

    @Test func aRequestStepSplitsBetweenTwoContainersAndTheSwitchTakesTheRest() async throws {
        let f = try ImageFixture(
            extraYAML: """
                traffic: {proxy: nginx, drain: 1}
                rollout:
                  steps: [{requests: 30%}, "100%"]
                  bake: 1.5
                  interval: 0.5
                  gates: [{type: proxy, max_error_ratio: 0.01, min_requests: 5, too_few: pass}]
                """)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--tag", "v1", "--steps", "100%"]).status == 0)
            let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2, clients: 10)
            let v2 = try await f.shipit(["deploy", "--tag", "v2"])
            // The load goes on a moment after the switch: on a loaded machine its clients may not
            // have run at all between the last step and the deploy's end.
            try await Task.sleep(for: .seconds(1))
            let r = try await load.finish()
            #expect(v2.status == 0, "\(v2.stdout.suffix(3000))")
            #expect(v2.stdout.contains("step 1/2 done: 30 % of requests on 3 host(s)"), "\(v2.stdout.suffix(3000))")
            // The split itself, as nginx's records of the step counted it: both containers answered.
            let counts = v2.stdout.firstMatch(of: /\((\d+) vs (\d+) requests\)/)
            #expect(
                counts.map { Int($0.1)! > 0 && Int($0.2)! > 0 } == true, "\(r.versions)\n\(v2.stdout.suffix(3000))")
            #expect(r.failed == 0 && r.back == 0, "\(r)")
            #expect(
                (r.versions["v1"] ?? 0) > 0 && (r.versions["v2"] ?? 0) > 0, "\(r.versions)\n\(v2.stdout.suffix(3000))")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example image v2") }
        }
    }
}
