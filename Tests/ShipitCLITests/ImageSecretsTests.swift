import Foundation
import ShipitCore
import TestSupport
import Testing

/// `env:` and `secrets:` with the image strategy on real podman hosts: every container of the
/// release gets the release's env file; the same image with another secret is another release,
/// and a rollback runs the old container with the old value.
@Suite("image deploys: the release's environment")
struct ImageSecretsTests {
    func inServing(_ f: ImageFixture, _ host: String, _ shell: String) async throws -> String {
        try await f.podman(host, "exec \(f.app)-$(cat \(f.deployTo)/.shipit/image-current) sh -c '\(shell)'")
    }

    @Test func aSecretReachesTheContainerAndAChangedOneIsANewReleaseThatRollsBack() async throws {
        let f = try ImageFixture(
            extraYAML: "env: {MODE: from-config}\nsecrets: {API_TOKEN: {env: SHIPIT_TEST_IMG_SECRET}}")
        try await withCleanup({ await f.cleanUp() }) {
            let bin = ShipitBinary(hosts: f.hosts)
            // Quotes, a command substitution, spaces: the container gets the value exactly, and no
            // host shell ever runs a part of it.
            let one = "one-\(UUID().uuidString.prefix(10)) it's $(touch /tmp/pwned-img) `id` \"q\""
            let two = "two-\(UUID().uuidString.prefix(10))"
            func deploy(_ value: String) async throws -> ShipitBinary.Run {
                try await bin.run(
                    config: f.configFile, ["deploy", "--tag", "v1"],
                    environment: ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_IMG_SECRET": value]) { $1 })
            }
            let first = try await deploy(one)
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            let h = f.targets[0]
            let firstID = try await f.podman(h, "true; cat \(f.deployTo)/.shipit/image-current")
            // <tag>-<digest12>-<identity of the environment, 8 hex>
            #expect(firstID.wholeMatch(of: #/v1-[0-9a-f]{12}-[0-9a-f]{8}/#) != nil, "\(firstID)")
            for host in f.targets {
                let seen = try await f.podman(host, "exec \(f.app)-\(firstID) sh -c 'printf %s \"$API_TOKEN\"' 2>&1")
                #expect(seen == one, "\(host): \(seen)")
                #expect(try await inServing(f, host, "echo $MODE") == "from-config", "\(host)")
                #expect(try await f.podman(host, "true; ls /tmp/pwned-img 2>/dev/null; echo none") == "none")
                #expect(try await f.podman(host, "true; stat -c %a \(f.deployTo)/.shipit/env/\(firstID)") == "600")
            }
            let exec = try await bin.run(
                config: f.configFile, ["exec", "--release", "current", "--", "sh", "-c", "echo token=$API_TOKEN"],
                environment: ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_IMG_SECRET": one]) { $1 })
            #expect(exec.status == 0, "\(exec.stderr)")
            #expect(exec.stdout.contains("token=***") && !exec.stdout.contains(one), "\(exec.stdout)")

            let second = try await deploy(two)
            #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
            let secondID = try await f.podman(h, "true; cat \(f.deployTo)/.shipit/image-current")
            #expect(secondID != firstID && secondID.hasPrefix(String(firstID.dropLast(9))))
            for host in f.targets { #expect(try await inServing(f, host, "echo $API_TOKEN") == two, "\(host)") }
            let changes = try await f.shipit(["changes"])
            #expect(changes.stdout.contains("config: secret API_TOKEN changed"), "\(changes.stdout)")
            #expect(changes.stdout.contains("config-only release"), "\(changes.stdout)")
            #expect(!(first.stdout + second.stdout + changes.stdout).contains(one))

            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            for host in f.targets {
                let seen = try await f.podman(host, "exec \(f.app)-\(firstID) sh -c 'printf %s \"$API_TOKEN\"' 2>&1")
                #expect(seen == one, "\(host): \(seen)")
            }
        }
    }
}
