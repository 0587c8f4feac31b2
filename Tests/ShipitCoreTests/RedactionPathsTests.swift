import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// Issue 28, item 6: every path remote or configured text takes to a screen, a file or the
/// ledger goes through the redactor (the shapes themselves: RedactorTests).
@Suite("redaction on every output path")
struct RedactionPathsTests {
    static let slack = "https://hooks.slack.com/services/T0001/B0002/XXXXyyyyZZZZ"

    func config(_ extra: String = "") throws -> DeployConfig {
        try DeployConfig.parse(
            yaml: "app: t\nhosts: [a, b]\ndeploy_to: /srv/t\n\(extra)", directory: Local.tempDir("redaction-paths"))
    }

    /// The `notify` event the ledger keeps says where a notification went, without the URL's credential.
    @Test func theDeliveredToEventHidesTheWebhookURL() async throws {
        let ledger = try await TestStore.sqlite.make()
        let attempt = LedgerAttempt(
            id: "n1", app: "t", stage: nil, strategy: "symlink", operation: "deploy", releaseID: "r1", user: "ops",
            machine: "m",
            pid: 1, startedAt: Date(), outcome: .running, configHash: "c1", hosts: [LedgerHostState(host: "a")])
        let recorder = AttemptRecorder(
            ledger: ledger, attempt: attempt, redactor: Redactor(config: try config(), environment: [:])
        ) { _ in }
        try await recorder.begin(settings: [:])
        await Deployment.record(
            [Self.slack: nil, "https://discord.com/api/webhooks/42/tok-secret": "HTTP 500"], event: "end",
            recorder: recorder)
        let messages = try await ledger.steps(attemptID: "n1").compactMap(\.message).joined(separator: "\n")
        #expect(messages.contains("end: delivered to https://hooks.slack.com/services/***"), "\(messages)")
        #expect(!messages.contains("XXXXyyyyZZZZ") && !messages.contains("tok-secret"), "\(messages)")
    }

    /// A triage check's output and the host's lock holder reach the table, the findings and the
    /// incident note redacted.
    @Test func triageCheckOutputAndItsNoteAreRedacted() throws {
        let cfg = try config("triage: {checks: [{name: db, command: pg_isready}]}\n")
        let t = Triage(
            config: cfg, transport: FakeTransport(hosts: ["a", "b"]), ledger: nil, ledgerStatus: "missing",
            since: Date())
        let out = ScriptOutput(
            "current=r1\ncheck.db=2\ncheck.db.out=could not connect to postgres://app:hunter2@db/x (SECRET_KEY_BASE=abc123)\n"
                + "lock.holder=x\nlock.by=ops token=tok-99999999\n")
        let (row, found) = t.judge(host: "a", out: out, live: nil, ready: nil)
        let detail = found.map(\.detail).joined(separator: "\n")
        #expect(detail.contains("postgres://app:***@db/x") && detail.contains("SECRET_KEY_BASE=***"), "\(detail)")
        #expect(row.lock?.contains("tok-99999999") == false, "\(row.lock ?? "")")
        let report = TriageReport(
            app: "t", stage: nil, time: Date(), since: Date(), hosts: [row], findings: found,
            firstFailingLayer: .dependency,
            changes: Timeline(app: "t", ledgerStatus: "ok", hostStatus: [:], notes: [], total: 0, entries: []),
            likelyChange: nil, rollback: .init(available: false, target: nil, command: nil, safe: false, why: "-"),
            seconds: 0)
        let note = IncidentNote.markdown(report)
        for secret in ["hunter2", "abc123", "tok-99999999"] { #expect(!note.contains(secret), "\(note)") }
    }

    /// `changes` diffs the configs the ledger holds, also ones an older shipit stored unmasked.
    @Test func changesDiffsNeverShowASecret() {
        let old = [
            "image.env.STRIPE_KEY": "sk_live_oldoldoldoldold",
            "notify[0].url": "https://hooks.slack.com/services/T/B/oldhook", "keep_releases": "5",
        ]
        let new = [
            "image.env.STRIPE_KEY": "sk_live_newnewnewnewnew",
            "notify[0].url": "https://hooks.slack.com/services/T/B/newhook", "keep_releases": "3",
        ]
        let lines = TimelineBuilder.diff(old, new)
        #expect(lines == ["keep_releases: 5 → 3"], "\(lines)")
        let secretOnly = TimelineBuilder.diff(["image.env.SECRET_KEY_BASE": "a1"], ["image.env.SECRET_KEY_BASE": "b2"])
        #expect(secretOnly == ["a redacted (secret) setting changed"])
    }

    /// A health endpoint's error page that echoes the environment: the snippet in the failure
    /// message (deploy notices, verify, status, triage) is redacted.
    @Test func healthBodySnippetsAreRedacted() {
        let body = "<h1>500</h1>\nDATABASE_URL=postgres://app:hunter2@db/x\nSTRIPE_KEY=sk_live_51HxYzAbCdEfGhIjKl\n"
        let s = HealthProbe.snippet(body)
        #expect(s.hasPrefix("'<h1>500</h1> DATABASE_URL=postgres://app:***@db/x"), "\(s)")
        #expect(!s.contains("hunter2") && !s.contains("sk_live"), "\(s)")
    }

    /// The dry run prints every command with the image's `-e` arguments: secret values hidden,
    /// also where no pattern could tell where they end.
    @Test func theDryRunHidesImageEnvironmentSecrets() throws {
        let cfg = try config(
            """
            strategy: image
            image: {name: registry.local/t, container_port: 8080, port: 8080, env: {STRIPE_KEY: sk_live_51HxYzAbCdEfGhIjKl, DB_PASSWORD: "a b c d", RAILS_ENV: production}}
            """)
        let plan = DryRunPlan.render(cfg, input: .imageTag("v1"), lockWaitSeconds: 0)
        #expect(plan.contains("RAILS_ENV=production"), "\(plan)")
        for secret in ["sk_live", "a b c d"] { #expect(!plan.contains(secret), "\(secret): \(plan)") }
    }
}
