import Foundation
import ShipitCore
import TestSupport
import Testing

@Suite("symlink deploys against real sshd hosts")
struct SymlinkDeployTests {
    @Test func v1ThenV2ThenBrokenV3RollsBackThenRollbackToV1() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {

            let r1 = try await f.deploy("v1")
            #expect(r1.phase == .succeeded)
            for h in f.targets {
                #expect(try await f.currentRelease(h) == r1.releaseID)
                #expect(try await f.served(h) == "hello from releases-example v1")
            }

            let r2 = try await f.deploy("v2")
            #expect(r2.phase == .succeeded)
            for h in f.targets {
                #expect(try await f.currentRelease(h) == r2.releaseID)
                #expect(try await f.served(h) == "hello from releases-example v2")
            }

            let r3 = try await f.deploy("v3")
            #expect(r3.phase == .rolledBack)
            #expect(r3.exitCode == .rolledBack)
            for h in f.targets {
                #expect(try await f.currentRelease(h) == r2.releaseID)
                #expect(try await f.served(h) == "hello from releases-example v2")
                // The failed release is kept for inspection and marked failed; the lock is released.
                #expect(
                    try await f.sh(
                        h, "ls \(f.deployTo)/.shipit/failed; test -e \(f.deployTo)/.shipit/lock && echo LOCKED || true")
                        == "\(r3.releaseID)\n")
            }

            // No argument: the newest good release older than current, present everywhere (v1, not failed v3).
            let back = try await f.run { await $0.rollback(to: nil) }
            #expect(back.phase == .succeeded)
            #expect(back.releaseID == r1.releaseID)
            for h in f.targets {
                #expect(try await f.currentRelease(h) == r1.releaseID)
                #expect(try await f.served(h) == "hello from releases-example v1")
                // Host-local audit trail: one line per switch, whatever caused it.
                let events = try await f.sh(
                    h, "sed 's/.*\"event\":\"\\([^\"]*\\)\".*/\\1/' \(f.deployTo)/.shipit/history.jsonl")
                #expect(
                    events == "deploy\noutcome\ndeploy\noutcome\ndeploy\nauto-rollback\noutcome\nrollback\noutcome\n")
            }
        }
    }

    @Test func brokenOnOneHostOnlyRollsBackEveryHost() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let good = try await f.deploy("v1")
            #expect(good.phase == .succeeded)

            // A release whose readiness fails only on the second host.
            let variant = Local.tempDir("variant")
            try await Local.run(["cp", "-a", f.release("v2") + "/.", variant])
            let bad = f.targets[1]
            let start = try String(contentsOfFile: variant + "/start.sh", encoding: .utf8)
            try start.replacingOccurrences(
                of: "#!/bin/sh\n", with: "#!/bin/sh\n[ \"$SHIPIT_HOST\" != \(bad) ] || echo 503 > READY_STATUS\n"
            )
            .write(toFile: variant + "/start.sh", atomically: true, encoding: .utf8)
            let r = try await f.deploy("v2-partial", from: variant)
            #expect(r.phase == .rolledBack)
            #expect(r.hosts.first { $0.host == bad }?.failedStep == "smoke test")
            for h in f.targets {
                #expect(try await f.currentRelease(h) == good.releaseID)
                #expect(try await f.served(h) == "hello from releases-example v1")
            }
        }
    }

    @Test func deadHostFailsPreflightAndNothingChanges() async throws {
        let f0 = try DeployFixture()
        try await withCleanup({ await f0.cleanUp() }) {
            let first = try await f0.deploy("v1")
            #expect(first.phase == .succeeded)

            // Same deploy_to, plus an address where no sshd runs.
            var cfg = try f0.config()
            cfg.hosts.append("127.0.0.199")
            let work = Local.tempDir("artifact")
            let artifact = try Artifact.build(from: .directory(f0.release("v2")), workDir: work)
            let r = try await f0.run(cfg) { await $0.deploy(artifact) }
            #expect(r.phase == .failed)
            #expect(r.failedIn == .preflight)
            #expect(r.exitCode == .preflightFailed)
            #expect(r.hosts.first { $0.host == "127.0.0.199" }?.error?.contains("refused") == true)
            for h in f0.targets {
                #expect(try await f0.currentRelease(h) == first.releaseID)
                #expect(
                    try await f0.sh(
                        h,
                        "ls \(f0.deployTo)/releases | wc -l; test -e \(f0.deployTo)/.shipit/lock && echo LOCKED || echo free"
                    ) == "1\nfree\n")
            }
        }
    }

    @Test func aHeldLockRefusesTheSecondDeployNamingTheHolder() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let first = try await f.deploy("v1")
            let h = f.targets[0]
            _ = try await f.sh(
                h,
                "printf 'holder=other-run\\npid=4242\\nby=alice@laptop\\nstarted=2026-11-28T00:00:00Z\\nreason=deploy x\\n' > \(f.deployTo)/.shipit/lock"
            )
            let r = try await f.deploy("v2")
            #expect(r.phase == .failed)
            #expect(r.exitCode == .locked)
            #expect(r.hosts.first { $0.host == h }?.error?.contains("alice@laptop") == true)
            for t in f.targets {
                #expect(try await f.currentRelease(t) == first.releaseID)
            }
            // The other run's lock is untouched; ours were released on the other hosts.
            #expect(try await f.sh(h, "sed -n 's/^holder=//p' \(f.deployTo)/.shipit/lock") == "other-run\n")
            #expect(
                try await f.sh(f.targets[1], "test -e \(f.deployTo)/.shipit/lock && echo LOCKED || echo free")
                    == "free\n")
        }
    }

    @Test func keepReleasesPrunesButNeverCurrentOrPrevious() async throws {
        let f = try DeployFixture(keep: 2)
        try await withCleanup({ await f.cleanUp() }) {
            var ids: [String] = []
            for v in ["v1", "v2", "v1", "v2"] {
                let r = try await f.deploy(v)
                #expect(r.phase == .succeeded)
                ids.append(r.releaseID)
            }
            for h in f.targets {
                let left = try await f.sh(h, "ls \(f.deployTo)/releases").split(separator: "\n").map(String.init)
                #expect(left == [ids[2], ids[3]])
            }
        }
    }
}
