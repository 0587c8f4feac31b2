import Foundation
import ShipitCore
import TestSupport
import Testing

/// shipit as a pipeline step (issue 19): GitHub Actions and GitLab CI output, signed webhooks
/// against a real local receiver, `stats` over a ledger with a known mix, and `--deadline`.
@Suite("CI: pipeline output, notifications, stats, deadline", .serialized)
struct CITests {
    let hosts = TestHosts.current
    let bin = ShipitBinary()

    @Test func githubActionsFailedDeployAnnotatesSummarizesAndSetsOutputs() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let good = try await f.currentRelease(hosts.hosts[0])
            let summary = f.dir + "/summary.md"
            let output = f.dir + "/output"
            try "earlier step\n".write(toFile: summary, atomically: true, encoding: .utf8)
            let env = ProcessInfo.processInfo.environment.merging([
                "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary, "GITHUB_OUTPUT": output,
            ]) { $1 }
            let r = try await bin.run(
                ["deploy", "--config", f.configFile, "--from", f.release("v3"), "--report-dir", f.dir + "/report"],
                environment: env)
            #expect(r.status == ShipitExit.rolledBack.rawValue)
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(
                lines.contains("::group::shipit: preflight") && lines.contains("::group::shipit: smokeTest")
                    && lines.contains("::endgroup::"))
            for h in hosts.hosts {
                #expect(
                    lines.contains {
                        $0.hasPrefix(
                            "::error title=shipit deploy%3A \(h) failed at smoke test::GET http://\(h):\(f.port)/health/ready → 503"
                        )
                    }, "\(h)")
            }
            #expect(lines.contains { $0.hasPrefix("::warning title=shipit%3A rolled back::") })
            #expect(
                lines.contains {
                    $0.hasPrefix("::error title=shipit deploy failed::") && $0.contains("rolled-back (exit 4)")
                })
            let md = try String(contentsOfFile: summary, encoding: .utf8)
            #expect(md.hasPrefix("earlier step\n"), "appended, not overwritten")
            let app = try f.config().app
            #expect(md.contains("shipit deploy of `\(app)`: **rolled-back**"))
            #expect(md.contains("| previous release | `\(good)` |"))
            for h in hosts.hosts { #expect(md.contains("| \(h) | `\(good)` | `\(good)` | failed at smoke test")) }
            #expect(md.contains("A READY_STATUS"), "changed files listed")
            #expect(md.contains("Roll back: `shipit rollback --config \(f.configFile)`"))
            // The run as a Mermaid chart: the phases, each host's steps, the failed smoke tests marked.
            #expect(md.contains("```mermaid\ngantt\n"), "\(md)")
            #expect(md.contains("  section run\n  preflight :"), "\(md)")
            for h in hosts.hosts { #expect(md.contains("  section \(h)\n"), "\(md)") }
            #expect(md.contains("smoke test :crit, "), "\(md)")
            let out = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(
                out.contains("outcome=rolled-back") && out.contains("previous_release=\(good)")
                    && out.contains("exit_code=4"))
            #expect(out.contains { $0.hasPrefix("release=") && $0 != "release=" })
            // --report-dir: the run's picture, named by its attempt, for an artifact upload.
            let attempt = try #require(out.first { $0.hasPrefix("attempt=") }).dropFirst("attempt=".count)
            let page = try String(contentsOfFile: f.dir + "/report/\(attempt).html", encoding: .utf8)
            #expect(page.contains("<svg") && hosts.hosts.allSatisfy { page.contains("data-host=\"\($0)\"") })
            #expect(r.stderr.contains("the run's picture: \(f.dir)/report/\(attempt).html"), "\(r.stderr)")
        }
    }

    @Test func gitlabSectionsAndADotenvReport() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let dotenv = f.dir + "/deploy.env"
            let env = ProcessInfo.processInfo.environment.merging(["GITLAB_CI": "true", "SHIPIT_DOTENV": dotenv]) { $1 }
            // A report directory that cannot be made: a warning, and the run's outcome unchanged.
            let r = try await bin.run(
                ["deploy", "--config", f.configFile, "--from", f.release("v1"), "--report-dir", "/dev/null/report"],
                environment: env)
            #expect(r.status == 0)
            #expect(r.stderr.contains("shipit: warning: --report-dir: cannot write the run's report"), "\(r.stderr)")
            #expect(
                r.stdout.contains("\u{1B}[0Ksection_start:")
                    && r.stdout.contains("shipit_preflight[collapsed=true]\r\u{1B}[0Kshipit: preflight"))
            #expect(r.stdout.contains("\u{1B}[0Ksection_end:"))
            let vars = try String(contentsOfFile: dotenv, encoding: .utf8)
            let release = try await f.currentRelease(hosts.hosts[0])
            #expect(vars.contains("SHIPIT_OUTCOME=succeeded\n") && vars.contains("SHIPIT_RELEASE=\(release)\n"))
        }
    }

    func receiver(secret: String, delay: Double = 0) throws -> (Process, Int, String) {
        try WebhookReceiver.start(secret: secret, delay: delay, hosts: hosts)
    }

    func waitListening(_ port: Int) async throws { try await WebhookReceiver.waitListening(port) }

    @Test func signedNotificationsAtStartAndEndVerifiedByARealReceiver() async throws {
        let (p, port, out) = try receiver(secret: "s3cret-hook-key")
        let f = try DeployFixture(
            extraYAML: """
                notify:
                  - {url: "http://127.0.0.1:\(port)/hooks/shipit", secret_env: SHIPIT_TEST_HOOK_SECRET}
                """)
        try await withCleanup({
            p.stopIfRunning()
            await f.cleanUp()
        }) {
            try await waitListening(port)
            let env = ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_HOOK_SECRET": "s3cret-hook-key"]) { $1 }
            let r = try await bin.run(
                ["deploy", "--config", f.configFile, "--from", f.release("v1")], environment: env)
            #expect(r.status == 0, "\(r.stdout.suffix(1500))")
            // A plain http:// target is said, not refused.
            #expect(
                r.stderr.contains("warning: notify: http://127.0.0.1:\(port)/hooks/shipit is plain http://"),
                "\(r.stderr)")
            let received = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            #expect(received.count == 2)
            #expect(received.map { $0["event"] as? String } == ["start", "end"])
            #expect(
                received.allSatisfy { $0["valid"] as? Bool == true },
                "HMAC of timestamp and body verified by the receiver: \(received)")
            #expect(received.allSatisfy { $0["contentType"] as? String == "application/json" })
            let end = try #require(received.last?["body"] as? [String: Any])
            let release = try await f.currentRelease(hosts.hosts[0])
            #expect(
                end["outcome"] as? String == "succeeded" && end["release"] as? String == release
                    && end["operation"] as? String == "deploy")
            #expect(
                (end["hosts"] as? [[String: Any]])?.map { $0["status"] as? String } == [
                    "switched", "switched", "switched",
                ])
            let app = try f.config().app
            #expect((end["text"] as? String)?.contains("deploy of \(app) \(release) succeeded") == true)
            #expect(end["attempt"] as? String != nil && (end["seconds"] as? Double ?? 0) > 0)

            // A wrong secret: the receiver sees a signature it cannot verify.
            let wrong = ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_HOOK_SECRET": "not-the-key"]) { $1 }
            _ = try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v2")], environment: wrong)
            let all = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            #expect(all.count == 4 && all.suffix(2).allSatisfy { $0.contains("\"valid\": false") })
            // The second deploy's end names what v2 changed.
            let second = try #require(try JSONSerialization.jsonObject(with: Data(all[3].utf8)) as? [String: Any])
            #expect(
                ((second["body"] as? [String: Any])?["changedFiles"] as? [String])?.contains("M VERSION") == true,
                "\(second)")
        }
    }

    @Test func aDeadReceiverDelaysTheDeployByNoMoreThanItsTimeoutAndIsRecorded() async throws {
        let (p, port, _) = try receiver(secret: "k", delay: 60)
        let f = try DeployFixture(
            extraYAML: """
                notify:
                  - {url: "http://127.0.0.1:\(port)/never-answers", timeout: 1.5}
                """)
        let plain = try DeployFixture()
        try await withCleanup({
            p.stopIfRunning()
            await f.cleanUp()
            await plain.cleanUp()
        }) {
            try await waitListening(port)
            var t = Date()
            #expect(try await plain.shipit(["deploy", "--from", plain.release("v1")]).status == 0)
            let baseline = Date().timeIntervalSince(t)
            t = Date()
            let r = try await f.shipit(["deploy", "--from", f.release("v1")])
            let withDead = Date().timeIntervalSince(t)
            #expect(r.status == 0, "a notification never fails a deploy")
            // The start is sent in the background; the end waits at most its timeout.
            #expect(withDead < baseline + 1.5 + 2, "took \(withDead) s, \(baseline) s without notifications")
            let ledger = try SQLiteLedger(path: f.dir + "/.shipit/ledger.sqlite")
            let attempt = try #require(try await ledger.attempts(LedgerQuery()).last)
            let notes = try await ledger.steps(attemptID: attempt.id).filter { $0.step == "notify" }
            #expect(
                notes.count == 2
                    && notes.allSatisfy { $0.status == "failed" && ($0.message ?? "").contains("never-answers failed") },
                "\(notes)")
        }
    }

    @Test func statsReportTheChangeFailureRateOfAKnownMix() async throws {
        let dir = Local.tempDir("stats")
        let config = dir + "/shipit.yml"
        try "app: st\nhosts: [h1]\ndeploy_to: /srv/st\n".write(toFile: config, atomically: true, encoding: .utf8)
        let ledger = try SQLiteLedger(path: dir + "/.shipit/ledger.sqlite")
        let day = Date().addingTimeInterval(-5 * 86400)
        // 6 successes, 2 rolled back, 1 failed before any switch, 1 failed left switched.
        let mix: [(LedgerAttempt.Outcome, Bool)] = [
            (.succeeded, true), (.succeeded, true), (.rolledBack, false), (.succeeded, true), (.failed, false),
            (.succeeded, true), (.failed, true), (.succeeded, true), (.rolledBack, false), (.succeeded, true),
        ]
        for (i, (outcome, switched)) in mix.enumerated() {
            let start = day.addingTimeInterval(Double(i) * 3600)
            let release = "r\(i)"
            var a = LedgerAttempt(
                id: "a\(i)", app: "st", stage: nil, strategy: "symlink", operation: "deploy", releaseID: release,
                user: "u", machine: "m",
                pid: 1, startedAt: start, finishedAt: start.addingTimeInterval(Double(10 + i)), outcome: outcome,
                configHash: "x",
                hosts: [LedgerHostState(host: "h1", previous: "r-old", current: switched ? release : "r-old")])
            a.state = outcome.rawValue
            try await ledger.begin(a)
        }
        let r = try await bin.run(["stats", "--config", config, "--json", "--since", "30d"])
        #expect(r.status == 0, "\(r.stderr)")
        let s = try ShipitBinary.decode(DeployStats.self, r.stdout)
        #expect(s.succeeded == 6 && s.failedChanges == 3 && s.changes == 9 && s.stoppedBeforeSwitch == 1)
        #expect(abs((s.changeFailureRate ?? 0) - 3.0 / 9.0) < 1e-9)
        #expect(s.timeToRestore.count == 3)
        // Successful runs took 10, 11, 13, 15, 17 and 19 s: nearest-rank p50 13, p95 19.
        #expect(s.duration.count == 6 && s.duration.p50 == 13 && s.duration.p95 == 19)
        let text = try await bin.run(["stats", "--config", config])
        #expect(
            text.stdout.contains(
                "change failure rate   33.3 % (3 of 9 changes; 1 stopped before any switch, not counted)"))

        // The same ledger copied into PostgreSQL gives the same figures.
        var pg = TestStore.pgTarget
        pg.schema = "st_" + UUID().uuidString.prefix(10).lowercased().replacingOccurrences(of: "-", with: "")
        let url = "postgres://shipit@\(pg.host):\(pg.port)/\(pg.database)?schema=\(pg.schema)"
        let copy = try await bin.run([
            "ledger", "migrate", "--from", "sqlite:" + dir + "/.shipit/ledger.sqlite", "--to", url, "--password-file",
            pg.passwordFile!,
        ])
        #expect(copy.status == 0, "\(copy.stdout)\(copy.stderr)")
        let pgConfig = dir + "/shipit.pg.yml"
        try "app: st\nhosts: [h1]\ndeploy_to: /srv/st\nledger: {url: \"\(url)\", password_file: \(pg.passwordFile!)}\n"
            .write(toFile: pgConfig, atomically: true, encoding: .utf8)
        let fromPG = try await bin.run(["stats", "--config", pgConfig, "--json", "--since", "30d"])
        #expect(fromPG.status == 0, "\(fromPG.stderr)")
        let p = try ShipitBinary.decode(DeployStats.self, fromPG.stdout)
        #expect(
            p.changeFailureRate == s.changeFailureRate && p.duration == s.duration && p.timeToRestore == s.timeToRestore
                && p.perDay == s.perDay)
    }

    @Test func aDeadlineEndsAHungStartAndRollsBack() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let good = try await f.currentRelease(hosts.hosts[0])
            let hung = Local.tempDir("hung")
            try FileManager.default.removeItem(atPath: hung)
            try FileManager.default.copyItem(atPath: f.release("v2"), toPath: hung)
            try "sleep 600\n".write(toFile: hung + "/start.sh", atomically: true, encoding: .utf8)
            let t = Date()
            let r = try await f.shipit(["deploy", "--from", hung, "--deadline", "3"])
            let took = Date().timeIntervalSince(t)
            #expect(r.status == ShipitExit.deadline.rawValue, "\(r.stdout.suffix(2000))")
            #expect(r.stdout.contains("PASSED ITS DEADLINE"))
            // The deadline, the cut command's close (bounded at 2 s) and the rollback.
            #expect(took < 3 + 2 + 5, "took \(took) s")
            for h in hosts.hosts {
                #expect(try await f.currentRelease(h) == good)
                #expect(try await f.served(h) == "hello from releases-example v1")
            }
        }
    }

    /// The example pipelines in docs/ci validate against the platforms' published schemas
    /// (check-jsonschema's vendored GitHub workflow and GitLab CI schemas), and a broken one does not.
    @Test func theExamplePipelinesValidate() async throws {
        let dir = hosts.repoRoot + "/docs/ci"
        try await Local.run([
            "check-jsonschema", "--builtin-schema", "vendor.github-workflows", dir + "/github-deploy.yml",
        ])
        try await Local.run(["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", dir + "/gitlab-ci.yml"])
        let github = try String(contentsOfFile: dir + "/github-deploy.yml", encoding: .utf8)
        #expect(
            github.contains("concurrency:") && github.contains("cancel-in-progress: false"), "two pipelines never race")
        #expect(github.contains("shipit verify") && github.contains("steps.deploy.outputs.outcome"))
        #expect(
            try String(contentsOfFile: dir + "/gitlab-ci.yml", encoding: .utf8).contains("resource_group: production"))
        let broken = Local.tempDir("wf") + "/broken.yml"
        // Valid YAML, invalid workflow: a schema error, not a parse error.
        try github.replacingOccurrences(of: "timeout-minutes: 20", with: "timeout-minutes: twenty").write(
            toFile: broken, atomically: true, encoding: .utf8)
        let bad = try? await Local.run(["check-jsonschema", "--builtin-schema", "vendor.github-workflows", broken])
        #expect(bad == nil, "the validator rejects a broken workflow")
    }

    @Test func githubDeploymentStatusesGoToTheAPI() async throws {
        let port = Local.freePort()
        let out = Local.tempDir("gh") + "/api.jsonl"
        let stub = Process()
        stub.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        stub.arguments = [
            hosts.repoRoot + "/scripts/github-api-stub.py", "--port", String(port), "--token", "ghs_t0ken", "--out",
            out,
        ]
        stub.standardOutput = FileHandle.nullDevice
        stub.standardError = FileHandle.nullDevice
        try stub.run()
        let f = try DeployFixture()
        try await withCleanup({
            stub.stopIfRunning()
            await f.cleanUp()
        }) {
            try await waitListening(port)
            var env = ProcessInfo.processInfo.environment
            env.merge([
                "GITHUB_ACTIONS": "true", "GITHUB_API_URL": "http://127.0.0.1:\(port)",
                "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "0123abc",
                "GITHUB_SERVER_URL": "https://github.example", "GITHUB_RUN_ID": "99", "GITHUB_TOKEN": "ghs_t0ken",
                "GITHUB_OUTPUT": f.dir + "/o", "GITHUB_STEP_SUMMARY": f.dir + "/s",
            ]) { $1 }
            let args = [
                "deploy", "--config", f.configFile, "--github-deployment", "production", "--environment-url",
                "https://shop.example",
            ]
            let ok = try await bin.run(args + ["--from", f.release("v1")], environment: env)
            #expect(ok.status == 0, "\(ok.stdout.suffix(1000))\(ok.stderr)")
            #expect(!ok.stderr.contains("GitHub deployment"), "no warning: \(ok.stderr)")
            let bad = try await bin.run(args + ["--from", f.release("v3")], environment: env)
            #expect(bad.status == ShipitExit.rolledBack.rawValue)
            let calls = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            #expect(calls.allSatisfy { ($0["problems"] as? [String])?.isEmpty == true }, "\(calls)")
            #expect(
                calls.map { $0["path"] as? String } == [
                    "/repos/acme/shop/deployments", "/repos/acme/shop/deployments/7/statuses",
                    "/repos/acme/shop/deployments/7/statuses",
                    "/repos/acme/shop/deployments", "/repos/acme/shop/deployments/7/statuses",
                    "/repos/acme/shop/deployments/7/statuses",
                ])
            let bodies = calls.map { $0["body"] as? [String: Any] ?? [:] }
            #expect(bodies[0]["ref"] as? String == "0123abc" && bodies[0]["environment"] as? String == "production")
            #expect(
                bodies.compactMap { $0["state"] as? String } == ["in_progress", "success", "in_progress", "failure"])
            #expect(
                bodies[2]["environment_url"] as? String == "https://shop.example"
                    && bodies[2]["log_url"] as? String == "https://github.example/acme/shop/actions/runs/99")

            // A wrong token: the API refuses, the deploy still goes through, with a warning.
            env["GITHUB_TOKEN"] = "wrong"
            let refused = try await bin.run(args + ["--from", f.release("v2")], environment: env)
            #expect(refused.status == 0)
            #expect(
                refused.stderr.contains("GitHub deployment: create deployment: HTTP 401 Bad credentials"),
                "\(refused.stderr)")
        }
    }
}
