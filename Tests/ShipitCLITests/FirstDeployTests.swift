import Foundation
import ShipitCore
import TestSupport
import Testing

/// A first deploy that fails after its switch has nothing to return to: shipit stops the new app
/// and takes `current` away, says so, and exits 4 (not 5: no host is split).
@Suite("a failed first deploy: no previous release, app stopped")
struct FirstDeployTests {
    /// Stops the releases-example app through the pidfile its start script writes.
    static let stop =
        "stop: 'kill $(cat \"$SHIPIT_DEPLOY_TO/shared/app.pid\") && rm -f \"$SHIPIT_DEPLOY_TO/shared/app.pid\"'"

    func appAnswers(_ f: DeployFixture, _ host: String) async throws -> Bool {
        let out = try await f.sh(
            host, "curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://\(host):\(f.port)/health/live || true")
        return out.trimmingCharacters(in: .whitespacesAndNewlines) == "200"
    }

    @Test func aBrokenFirstReleaseIsStoppedAndCurrentRemovedExit4() async throws {
        let f = try DeployFixture(healthDeadline: 1, extraYAML: Self.stop)
        try await withCleanup({ await f.cleanUp() }) {
            let r = try await f.shipit(["deploy", "--from", f.release("v3")])
            #expect(r.status == ShipitExit.rolledBack.rawValue, "\(r.stdout)\(r.stderr)")
            #expect(
                r.stdout.contains("there was no previous release to return to: app stopped and 'current' removed"),
                "\(r.stdout)")
            #expect(!r.stdout.contains("ROLLBACK FAILED"))
            for h in f.targets {
                #expect(try await f.sh(h, "test -e \(f.deployTo)/current && echo yes || echo no").hasPrefix("no"))
                #expect(try await !appAnswers(f, h))
                // Kept and marked for inspection, like any release that went live and failed.
                #expect(
                    try await f.sh(h, "ls \(f.deployTo)/.shipit/failed | wc -l").trimmingCharacters(
                        in: .whitespacesAndNewlines) == "1")
            }
            let status = try await f.shipit(["status"])
            #expect(status.status != 0)
            #expect(
                status.stdout.contains("no current release (")
                    && status.stdout.contains("failed and was stopped: there was nothing to return to"),
                "\(status.stdout)")
            let verify = try await f.shipit(["verify"])
            #expect(verify.status != 0 && verify.stdout.contains("failed and was stopped"), "\(verify.stdout)")
            // The ledger says where each host ended: stopped, on no release.
            let json = try await f.shipit(["changes", "--json"])
            #expect(json.stdout.contains("\"stopped\""), "\(json.stdout)")
            // The next, healthy deploy is an ordinary first deploy.
            let good = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            for h in f.targets { #expect(try await appAnswers(f, h)) }
        }
    }

    @Test func withoutAStopCommandTheSummarySaysTheAppWasLeftRunning() async throws {
        let f = try DeployFixture(healthDeadline: 1)
        try await withCleanup({ await f.cleanUp() }) {
            let r = try await f.shipit(["deploy", "--from", f.release("v3")])
            #expect(r.status == ShipitExit.rolledBack.rawValue, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("app NOT stopped on some hosts (no 'stop' command configured)"), "\(r.stdout)")
            #expect(r.stdout.contains("left running (set 'stop')"))
        }
    }

    @Test func withTheTrafficSwitchAFirstCanaryStoppedByAGateServesNothingAfterwards() async throws {
        let port = DeployFixture.peekPort()
        let f = try DeployFixture(
            healthDeadline: 2, port: port,
            extraYAML: """
                traffic: {proxy: nginx, drain: 1}
                rollout:
                  steps: [1, "100%"]
                  bake: 1.5
                  interval: 0.25
                  gates:
                    - type: http
                      url: "http://{host}:\(port)/metrics.json"
                      json: error_ratio
                      max: 0.1
                """)
        try await withCleanup({ await f.cleanUp() }) {
            let r = try await f.shipit(["deploy", "--from", f.release("v6")])
            #expect(r.status == ShipitExit.rolledBack.rawValue, "\(r.stdout)\(r.stderr)")
            #expect(
                r.stdout.contains("1 host(s) had no previous release to return to: app stopped and 'current' removed"),
                "\(r.stdout)")
            let canary = f.targets[0]
            #expect(try await f.sh(canary, "test -e \(f.deployTo)/current && echo yes || echo no").hasPrefix("no"))
            #expect(
                try await f.sh(canary, "ls \(f.deployTo)/.shipit/slots/ | grep -c pid || true").trimmingCharacters(
                    in: .whitespacesAndNewlines) == "0")
            #expect(try await !appAnswers(f, canary))
            // The hosts of the later step never got the release.
            for h in f.targets.dropFirst() {
                #expect(
                    try await f.sh(h, "ls \(f.deployTo)/releases 2>/dev/null | wc -l").trimmingCharacters(
                        in: .whitespacesAndNewlines) == "0")
            }
        }
    }
}
