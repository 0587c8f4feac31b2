import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit sync` for the image strategy, with real podman and the local registry: a host left on
/// an older release is brought to the fleet's by the image's digest — not by its tag, which has
/// moved since — with the release's environment, under the same release id; the hosts already on
/// it get no new line in their history.
@Suite("image sync: a straggler pulls the fleet's release by digest")
struct ImageSyncTests {
    @Test func syncPinsTheDigestEvenAfterTheTagMoved() async throws {
        let f = try ImageFixture(extraYAML: "env: {GREETING: hi}")
        let tag = "sync-" + f.app.suffix(6)
        let image = "\(ImageFixture.registry)/demo"
        try await withCleanup({ await f.cleanUp() }) {
            let (first, second) = (f.targets[0], f.targets[1])
            // Every other host is left behind (the harness has three or more).
            let stragglers = Array(f.targets.dropFirst(2))
            /// Pushes the registry's `tag` as the content of `source`.
            func point(_ tag: String, at source: String) async throws {
                let e = ImageFixture.engine
                let out = try await f.sh(
                    first,
                    "\(e) pull -q --tls-verify=false \(image):\(source) >/dev/null && \(e) tag \(image):\(source) \(image):\(tag) && \(e) push -q --tls-verify=false \(image):\(tag) && echo pushed"
                )
                #expect(out.hasSuffix("pushed"), "\(out)")
            }
            #expect(try await f.shipit(["deploy", "--tag", "v1"]).status == 0)
            // The test's own tag, on v2's content, deployed to two hosts.
            try await point(tag, at: "v2")
            let deploy = try await f.shipit(["deploy", "--tag", tag, "--hosts", "\(first),\(second)"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let fleetRelease = try await f.podman(
                first, "ps --filter label=shipit.app=\(f.app) --format '{{index .Labels \"shipit.release\"}}'")
            #expect(
                fleetRelease.hasPrefix(tag + "-") && fleetRelease.split(separator: "-").count == 4, "\(fleetRelease)")
            let fleetDigest = try await f.runningDigest(first)
            for h in stragglers { #expect(try await f.served(h) == "hello from releases-example image v1") }

            // The tag moves on to v1's content: a sync must not follow it.
            try await point(tag, at: "v1")
            func history(_ h: String) async throws -> String {
                try await f.sh(h, "wc -l < \(f.deployTo)/.shipit/history.jsonl")
            }
            let before = [try await history(first), try await history(second)]

            let sync = try await f.shipit(["sync"])
            #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
            #expect(
                sync.stdout.contains(
                    "\(fleetRelease) to \(stragglers.joined(separator: ", ")) (its image by digest, as on"),
                "\(sync.stdout)")
            for h in stragglers {
                #expect(try await f.served(h) == "hello from releases-example image v2")
                #expect(try await f.runningDigest(h) == fleetDigest)
                #expect(
                    try await f.podman(
                        h, "ps --filter label=shipit.app=\(f.app) --format '{{index .Labels \"shipit.release\"}}'")
                        == fleetRelease)
            }
            #expect([try await history(first), try await history(second)] == before)
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            // The ledger names the pinned content as the sync's source.
            let changes = try await f.shipit(["changes", "--since", "1h", "--json", "--no-hosts"])
            #expect(changes.stdout.contains("\(image)@\(fleetDigest)"), "\(changes.stdout)")
        }
    }
}
