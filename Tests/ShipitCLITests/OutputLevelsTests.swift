import Foundation
import ShipitCore
import TestSupport
import Testing

/// Output that grows with what matters, on eleven real hosts (the shared three and eight of the
/// test's own: past ten, a step's per-host lines are one line) with rollout `[1, "100%"]` and two gates: a 6-second bake prints no more than a 1-second
/// one bar a few lines, a failing gate sample is printed whole, `-q` keeps the summary, `-v` every
/// sample; on a terminal the live view draws its status line.
@Suite("output levels on eleven hosts, and the live view on a terminal", .serialized)
struct OutputLevelsTests {
    let hosts = TestHosts.current
    let own = (81...88).map { "127.0.0.\($0)" }

    func rollout(bake: Double, gate: String) -> String {
        """
        rollout:
          steps: [1, "100%"]
          bake: \(bake)
          interval: 0.25
          gates:
            - {type: health, name: health}
            - {type: command, name: errors, run: '\(gate)'}
        """
    }

    /// The fixture's config with another rollout section.
    func setRollout(_ f: DeployFixture, bake: Double, gate: String = "echo error_ratio 0.01") throws {
        let text = try String(contentsOfFile: f.configFile, encoding: .utf8)
        let head = text.components(separatedBy: "rollout:\n").first ?? text
        try (head + rollout(bake: bake, gate: gate) + "\n").write(
            toFile: f.configFile, atomically: true, encoding: .utf8)
    }

    func lines(_ r: ShipitBinary.Run) -> Int { r.stdout.split(separator: "\n").count }

    @Test func aLongerBakeAddsNoLinesAndFailuresArePrintedWhole() async throws {
        for h in own { try await hosts.harness(["start-host", h], environment: [:]) }
        let f = try DeployFixture(targets: hosts.hosts + own, extraYAML: rollout(bake: 1, gate: "true"))
        try await withCleanup({
            await f.cleanUp()
            for h in own { _ = try? await hosts.harness(["stop-host", h], environment: [:]) }
        }) {
            try setRollout(f, bake: 1)
            let short = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(short.status == 0, "\(short.stdout)")
            try setRollout(f, bake: 6)
            let long = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(long.status == 0, "\(long.stdout)")
            #expect(lines(long) <= lines(short) + 5, "1 s bake:\n\(short.stdout)\n6 s bake:\n\(long.stdout)")
            // The bake's samples, summed up per step.
            #expect(
                long.stdout.contains("bake ok: step 1/2: ") && long.stdout.contains("on 1 host(s), health 0/")
                    && long.stdout.contains("errors 0/"), "\(long.stdout)")
            #expect(!long.stdout.contains(" gate ok"), "\(long.stdout)")
            // Past ten hosts, one line per step: no host's own line, the count and the slowest instead.
            #expect(long.stdout.contains(" - switch ok: 10/10 host(s) ok, slowest "), "\(long.stdout)")
            #expect(!long.stdout.contains("\(own[0]) switch ok"), "\(long.stdout)")

            // -v: every sample (the hosts' health at each interval of step 2 alone is over a hundred).
            let verbose = try await f.shipit(["deploy", "--from", f.release("v1"), "-v"])
            #expect(verbose.status == 0, "\(verbose.stdout.suffix(2000))\(verbose.stderr)")
            #expect(verbose.stdout.components(separatedBy: " gate ok").count > 100, "\(verbose.stdout)")
            // -q: the final summary only.
            let quiet = try await f.shipit(["deploy", "--from", f.release("v2"), "--quiet"])
            #expect(quiet.status == 0)
            #expect(!quiet.stdout.contains("state:") && quiet.stdout.contains("succeeded in 2 rollout steps"))
            #expect(lines(quiet) <= 13, "\(quiet.stdout)")

            // A failing sample is printed whole, with the gate's own words.
            try setRollout(f, bake: 2, gate: "echo error_ratio 0.93 over the limit; exit 1")
            let bad = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(bad.status == ShipitExit.rolledBack.rawValue, "\(bad.stdout)")
            #expect(
                bad.stdout.contains("- gate FAILED")
                    && bad.stdout.contains("errors: exit 1: error_ratio 0.93 over the limit"),
                "\(bad.stdout)")
        }
    }

    /// Under a real pseudo-terminal (util-linux `script`), the status line is drawn in reverse video
    /// and counts the bake down; without one it is not.
    @Test func theLiveViewOnATerminal() async throws {
        let f = try DeployFixture(extraYAML: rollout(bake: 2, gate: "echo error_ratio 0.01"))
        try await withCleanup({ await f.cleanUp() }) {
            let line =
                ([ShipitBinary(hosts: hosts).path, "deploy", "--config", f.configFile, "--from", f.release("v1")])
                .map(ShellQuote.quote).joined(separator: " ")
            let (status, out) = try await LocalProcess.runStatusDetached(
                ["sh", "-c", "TERM=xterm COLUMNS=200 script -qec \(ShellQuote.quote(line)) /dev/null </dev/null"])
            #expect(status == 0, "\(out)")
            #expect(out.contains("\u{1B}[7m[bake] · step 2/2"), "\(out.debugDescription)")
            #expect(out.contains("s left · health ok"), "\(out.debugDescription)")
            #expect(out.contains("errors ok: exit 0"), "\(out.debugDescription)")
            // The summary is left as a run without a terminal prints it.
            #expect(out.contains("deploy of ") && out.contains("succeeded in 2 rollout steps"))
            let plain = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(!plain.stdout.contains("\u{1B}["), "\(plain.stdout)")
        }
    }
}
