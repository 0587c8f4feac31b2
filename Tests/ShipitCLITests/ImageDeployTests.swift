import Foundation
import ShipitCore
import Testing
import TestSupport

/// `strategy: image` with real rootless podman on the real sshd hosts, pulling from the local registry.
@Suite("image deploys: podman, local registry, real sshd hosts")
struct ImageDeployTests {
    let bin = ShipitBinary()

    func shipit(_ f: ImageFixture, _ args: [String]) async throws -> ShipitBinary.Run {
        try await bin.run([args[0], "--config", f.configFile] + args.dropFirst())
    }

    func timeline(_ f: ImageFixture) async throws -> Timeline {
        try ShipitBinary.decode(Timeline.self, try await shipit(f, ["changes", "--since", "1h", "--json", "--no-hosts"]).stdout)
    }

    @Test func v1ThenV2ThenBrokenV3RollsBackThenRollbackToV1ByDigest() async throws {
        let f = try ImageFixture()
        defer { Task { await f.cleanUp() } }
        #expect(try await shipit(f, ["deploy", "--tag", "v1"]).status == 0)
        let r2 = try await shipit(f, ["deploy", "--tag", "v2"])
        #expect(r2.status == 0, "\(r2.stdout)")
        for h in f.targets { #expect(try await f.served(h) == "hello from releases-example image v2") }

        let r3 = try await shipit(f, ["deploy", "--tag", "v3"])
        #expect(r3.status == ShipitExit.rolledBack.rawValue, "\(r3.stdout)")
        var t = try await timeline(f)
        let (v1, v2, v3) = (t.entries[0], t.entries[1], t.entries[2])
        for h in f.targets {
            #expect(try await f.served(h) == "hello from releases-example image v2")
            #expect(try await f.runningDigest(h) == v2.imageDigest)
            // The failed release's container is kept, stopped, for inspection.
            #expect(try await f.podman(h, "container inspect --format '{{.State.Status}}' \(f.app)-\(v3.release)") == "exited")
        }
        #expect(v3.outcome == "rolled-back")
        #expect([v1, v2, v3].allSatisfy { $0.imageDigest?.hasPrefix("sha256:") == true })

        // Rollback with no argument: the newest good release before v2 (not the failed v3), by digest.
        let back = try await shipit(f, ["rollback"])
        #expect(back.status == 0, "\(back.stdout)")
        for h in f.targets {
            #expect(try await f.served(h) == "hello from releases-example image v1")
            #expect(try await f.runningDigest(h) == v1.imageDigest)
        }
        // And forward again by digest.
        let again = try await shipit(f, ["rollback", "--to", try #require(v2.imageDigest)])
        #expect(again.status == 0, "\(again.stdout)")
        for h in f.targets { #expect(try await f.served(h) == "hello from releases-example image v2") }
        t = try await timeline(f)
        #expect(t.entries.map(\.outcome) == ["succeeded", "succeeded", "rolled-back", "succeeded", "succeeded"])
        let status = try await shipit(f, ["status"])
        #expect(status.status == 0, "\(status.stdout)")
    }

    @Test func aTagMovedInTheRegistryDoesNotChangeWhatRollbackRuns() async throws {
        let f = try ImageFixture()
        defer { Task { await f.cleanUp() } }
        // A tag of this test's own, so moving it cannot disturb other tests.
        let moving = "mv-\(f.app.suffix(6))"
        let repo = "\(ImageFixture.registry)/demo"
        try await Local.run(["podman", "tag", "\(repo):v1", "\(repo):\(moving)"])
        try await Local.run(["podman", "push", "--quiet", "--tls-verify=false", "\(repo):\(moving)"])
        #expect(try await shipit(f, ["deploy", "--tag", moving]).status == 0)
        #expect(try await shipit(f, ["deploy", "--tag", "v2"]).status == 0)
        let first = try await timeline(f).entries[0]

        // The tag now points at other content (the broken v3) in the registry.
        try await Local.run(["podman", "tag", "\(repo):v3", "\(repo):\(moving)"])
        try await Local.run(["podman", "push", "--quiet", "--tls-verify=false", "\(repo):\(moving)"])

        let back = try await shipit(f, ["rollback", "--to", moving])
        #expect(back.status == 0, "\(back.stdout)")
        for h in f.targets {
            #expect(try await f.served(h) == "hello from releases-example image v1")
            #expect(try await f.runningDigest(h) == first.imageDigest)
        }
    }

    @Test func anImageMissingFromTheRegistryFailsPreflightAndChangesNothing() async throws {
        let f = try ImageFixture()
        defer { Task { await f.cleanUp() } }
        #expect(try await shipit(f, ["deploy", "--tag", "v1"]).status == 0)
        let r = try await shipit(f, ["deploy", "--tag", "no-such-tag"])
        #expect(r.status == ShipitExit.preflightFailed.rawValue, "\(r.stdout)")
        #expect(r.stdout.contains("pull"))
        for h in f.targets {
            #expect(try await f.served(h) == "hello from releases-example image v1")
            #expect(try await f.podman(h, "ps -a --filter label=shipit.app=\(f.app) --format '{{.Names}}' | wc -l") == "1")
        }
        let lock = try await bin.run(["lock", "status", "--config", f.configFile])
        #expect(lock.status == 0, "\(lock.stdout)")
    }
}
