import Foundation
import ShipitCore
import TestSupport
import Testing

/// Issue 28, item 6, through the real binary: `deploy --dry-run` prints every command a host
/// would run, the image's `-e` arguments included: secret values never (no host is contacted).
@Suite("the dry run shows no secret")
struct DryRunRedactionTests {
    @Test func imageEnvironmentSecretsAreMaskedInTheDryRun() async throws {
        let dir = Local.tempDir("dryrun-secrets")
        try """
        app: shop
        hosts: [web-1]
        deploy_to: /srv/shop
        strategy: image
        health: {port: 8080}
        image:
          name: registry.local/shop
          container_port: 8080
          port: 8080
          env: {STRIPE_KEY: sk_live_51HxYzAbCdEfGhIjKl, SECRET_KEY_BASE: 9f2c4e6a8b0d1f3e5a7c, DB_PASSWORD: "two words 'and' quotes",
                SENTRY_DSN: "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/2", RAILS_ENV: production}
        """.write(toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        let r = try await FlagRangeTests.bin.run(
            ["deploy", "--config", dir + "/shipit.yml", "--tag", "v1", "--dry-run"],
            environment: ["HOME": dir, "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("RAILS_ENV=production") && r.stdout.contains("STRIPE_KEY=***"), "\(r.stdout)")
        for secret in ["sk_live_51", "9f2c4e6a8b0d", "two words", "quotes", "0123456789abcdef"] {
            #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret), "\(secret): \(r.stdout)")
        }
    }
}
