import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit report --html` of real runs, opened in a real headless browser (Debian's chromium): the
/// page renders without a console error, has one lane per host, and a screenshot of it is made.
@Suite("report: a run's HTML picture in headless chromium", .serialized)
struct ReportTests {
    static let chromium = "/usr/bin/chromium"
    static var hasChromium: Bool { FileManager.default.isExecutableFile(atPath: chromium) }
    let hosts = TestHosts.current

    /// The page as headless chromium sees it: the DOM after rendering, a screenshot, and the
    /// console lines it logged (the report has no script, so any console line is a fault).
    struct Rendered {
        let dom: String
        let screenshot: Data
        let console: [String]

        /// The hosts of the lanes, in page order.
        var lanes: [String] {
            dom.matches(of: /<g class="lane[^"]*" data-host="([^"]*)"/).map { String($0.output.1) }
        }
    }

    static func render(_ file: String, screenshot: String) async throws -> Rendered {
        let browser = ShipitBinary(path: chromium)
        func run(_ mode: [String]) async throws -> ShipitBinary.Run {
            // As root chromium needs --no-sandbox; a profile of its own keeps runs apart.
            try await browser.run(
                [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                    "--user-data-dir=\(Local.tempDir("chromium-profile"))", "--window-size=1400,900",
                ] + mode + ["file://\(file)"])
        }
        let dom = try await run(["--dump-dom"])
        let shot = try await run(["--screenshot=\(screenshot)"])
        #expect(dom.status == 0 && shot.status == 0, "\(dom.stderr.suffix(2000))\(shot.stderr.suffix(2000))")
        let console = (dom.stderr + shot.stderr).split(separator: "\n").map(String.init).filter {
            $0.contains(":CONSOLE")
        }
        let png = FileManager.default.contents(atPath: screenshot) ?? Data()
        return Rendered(dom: dom.stdout, screenshot: png, console: console)
    }

    /// The check the tests rely on catches a page that does log an error (chromium logs every
    /// console message at one level, so the test asserts there are none at all).
    @Test(.enabled(if: ReportTests.hasChromium, "chromium is not installed (scripts/install-deps.sh installs it)"))
    func theConsoleCheckSeesAPageThatThrows() async throws {
        let dir = Local.tempDir("report-broken")
        let page = dir + "/broken.html"
        try "<!DOCTYPE html><html><body><script>console.error('deliberate'); notAFunction();</script></body></html>"
            .write(toFile: page, atomically: true, encoding: .utf8)
        let r = try await Self.render(page, screenshot: dir + "/broken.png")
        #expect(r.console.contains { $0.contains("notAFunction is not defined") }, "\(r.console)")
    }

    /// Ten hosts of the test's own (127.0.0.181–190), rollout `[1, "100%"]`, two gates (health and
    /// an http error ratio with its max): a good run, then a release whose error ratio climbs past
    /// the max on the canary, stopped there and rolled back.
    @Test(.enabled(if: ReportTests.hasChromium, "chromium is not installed (scripts/install-deps.sh installs it)"))
    func aTwoGateRolloutOnTenHostsRendersOneLanePerHostAndItsFailure() async throws {
        let addresses = (181...190).map { "127.0.0.\($0)" }
        func onAll(_ action: String) async throws {
            let script =
                "for a in \(addresses.joined(separator: " ")); do bash '\(hosts.repoRoot)/scripts/testhosts.sh' \(action) $a & done; wait"
            try await Local.run(["bash", "-c", script])
        }
        try await onAll("start-host")
        let port = DeployFixture.peekPort()
        let f = try DeployFixture(
            targets: addresses, port: port,
            extraYAML: """
                parallel: 10
                rollout:
                  steps: [1, "100%"]
                  bake: 1.2
                  interval: 0.3
                  gates:
                    # One slow answer of ten hosts on two loaded cores is not what this test is about.
                    - {type: health, failure_limit: 1}
                    - {type: http, name: errors, url: "http://{host}:\(port)/metrics.json", json: error_ratio, max: 0.2}
                """)
        let out = Local.tempDir("shipit-report")
        try await withCleanup({
            await f.cleanUp()
            try? await onAll("stop-host")
        }) {
            let good = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(good.status == 0, "\(good.stdout.suffix(3000))\(good.stderr)")
            let written = try await f.shipit(["report", "--html", out + "/good.html"])
            #expect(written.status == 0, "\(written.stderr)")
            #expect(written.stdout.contains("written to \(out)/good.html"))
            let html = try String(contentsOfFile: out + "/good.html", encoding: .utf8)
            // Self-contained: nothing to fetch, no script.
            for outside in ["<script", "<link", "src=", "href=", "url(", "@import"] {
                #expect(!html.contains(outside), "\(outside)")
            }
            let page = try await Self.render(out + "/good.html", screenshot: out + "/good.png")
            #expect(page.console.isEmpty, "\(page.console)")
            #expect(page.lanes == addresses, "\(page.lanes)")
            #expect(page.screenshot.starts(with: [0x89, 0x50, 0x4E, 0x47]) && page.screenshot.count > 20_000)
            #expect(page.dom.contains("data-outcome=\"succeeded\""))
            #expect(page.dom.contains("data-gate=\"health\"") && page.dom.contains("data-gate=\"errors\""))
            #expect(page.dom.contains("<g class=\"threshold\" data-max=\"0.2\">"))
            #expect(page.dom.contains("<polyline"), "the error ratio's values are drawn")
            #expect(page.dom.components(separatedBy: "class=\"rollout-mark\"").count - 1 == 2)
            #expect(!page.dom.contains("id=\"failure\""))
            for step in ["preflight", "upload", "switch", "smoke test", "bake"] {
                #expect(page.dom.contains("class=\"bar ok\" data-step=\"\(step)\""), "\(step)")
            }
            let first = try #require(try await f.timeline().entries.last).attempt

            // v6's error ratio climbs past 0.2 on the canary: the gate stops the run there.
            let bad = try await f.shipit(["deploy", "--from", f.release("v6")])
            #expect(bad.status == ShipitExit.rolledBack.rawValue, "\(bad.stdout.suffix(3000))")
            let failed = try await f.shipit(["report", "--html", out + "/failed.html"])
            #expect(failed.status == 0, "\(failed.stderr)")
            let broken = try await Self.render(out + "/failed.html", screenshot: out + "/failed.png")
            #expect(broken.console.isEmpty, "\(broken.console)")
            #expect(broken.lanes == addresses, "\(broken.lanes)")
            #expect(broken.dom.contains("data-outcome=\"rolled-back\""))
            #expect(broken.dom.contains("<section id=\"failure\" class=\"failure\" data-step=\"gate errors\">"))
            #expect(broken.dom.contains("<g class=\"lane stopped\" data-host=\"\(addresses[0])\""))
            #expect(broken.dom.contains("class=\"sample failed\""))
            #expect(broken.dom.contains("data-step=\"rollback"))

            // --attempt picks an older run; to stdout with `-`.
            let older = try await f.shipit(["report", "--attempt", first, "--html", "-"])
            #expect(older.status == 0 && older.stdout.contains("data-outcome=\"succeeded\""))
            let missing = try await f.shipit(["report", "--attempt", "no-such-run", "--html", "-"])
            #expect(missing.status != 0 && missing.stderr.contains("no attempt no-such-run"))
            print("report screenshots: \(out)/good.png \(out)/failed.png")
        }
    }
}
