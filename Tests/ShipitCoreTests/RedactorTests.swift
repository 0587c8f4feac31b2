import Foundation
import ShipitCore
import Testing

@Suite("secrets are redacted before output and the ledger")
struct RedactorTests {
    let r = Redactor(environment: [
        "DATABASE_URL": "postgres://app:s3cr3t-pw@db:5432/app", "MY_API_TOKEN": "tok-123456789",
        "HOME": "/home/ops", "SHORT_SECRET": "abc",
    ])

    @Test func hidesSecretEnvironmentValuesWhereverTheyAppear() {
        #expect(r.redact("auth with tok-123456789 failed") == "auth with *** failed")
        #expect(r.redact("dsn=postgres://app:s3cr3t-pw@db:5432/app").contains("s3cr3t-pw") == false)
        // Not secret-named, or too short to redact without mangling ordinary text.
        #expect(r.redact("home is /home/ops, abc") == "home is /home/ops, abc")
    }

    @Test func hidesWellKnownShapes() {
        #expect(r.redact("mysql://root:hunter2@10.0.0.1/db") == "mysql://root:***@10.0.0.1/db")
        #expect(r.redact("PASSWORD=hunter2 next") == "PASSWORD=*** next")
        #expect(r.redact(#"{"token": "abc.def"}"#) == #"{"token": "***"}"#)
        #expect(r.redact("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer ***")
        #expect(r.redact("key AKIAABCDEFGHIJKLMNOP used") == "key *** used")
        #expect(
            r.redact("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----")
                == "*** private key ***")
        #expect(r.redact("deploy 20261128T053408.418Z-f8bf13bb ok") == "deploy 20261128T053408.418Z-f8bf13bb ok")
    }

    @Test func masksSecretNamedSettings() {
        let s = r.redact(settings: [
            "env.DB_PASSWORD": "x", "health.port": "8080", "ssh.identity": "/keys/id", "url": "https://u:p4ss@h/",
        ])
        #expect(
            s == [
                "env.DB_PASSWORD": "***", "health.port": "8080", "ssh.identity": "/keys/id", "url": "https://u:***@h/",
            ])
    }
}

extension RedactorTests {
    @Test func matchesStartOnlyAtTheirTriggers() {
        let r = Redactor(environment: [:])
        #expect(
            r.redact("1https://u:p4ss@h/ and api_key=zz, mypassword: 'q'")
                == "1https://u:***@h/ and api_key=***, mypassword: '***'")
        #expect(r.redact("xAKIAABCDEFGHIJKLMNOP used") == "xAKIAABCDEFGHIJKLMNOP used")
        #expect(r.redact("a\nghp_abcdefghijklmnopqrstuvwxyz\nb") == "a\n***\nb")
        // Log lines full of trigger words but no secret stay as they are.
        let line = "GET http://example.org/health 200 secret-free token count=3 password through the high road\n"
        let text = String(repeating: line, count: 1000)
        #expect(r.redact(text) == text)
    }
}

/// Issue 28, item 6: the shapes that went through unmasked or half-masked.
extension RedactorTests {
    static let leaks: [(text: String, secret: String)] = [
        ("SECRET_KEY_BASE=9f2c4e6a8b0d1f3e5a7c", "9f2c4e6a8b0d1f3e5a7c"),
        ("-e STRIPE_KEY=sk_live_51HxYzAbCdEfGhIjKl", "sk_live_51HxYzAbCdEfGhIjKl"),
        ("PRIVATE_KEY=MIIEvQIBADANBgkq", "MIIEvQIBADANBgkq"),
        ("using sk_live_51HxYzAbCdEfGhIjKl now", "sk_live_51HxYzAbCdEfGhIjKl"),
        ("restricted rk_live_51HxYzAbCdEfGhIjKl", "rk_live_51HxYzAbCdEfGhIjKl"),
        (
            "clone with github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
        ),
        ("gitlab glpat-abcdefghij0123456789xyz", "glpat-abcdefghij0123456789xyz"),
        ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
        ("aws ASIAABCDEFGHIJKLMNOP temporary", "ASIAABCDEFGHIJKLMNOP"),
        ("posted to https://hooks.slack.com/services/T0001/B0002/XXXXyyyyZZZZ", "T0001/B0002/XXXXyyyyZZZZ"),
        ("posted to https://discord.com/api/webhooks/123456789/AbCdEf-token_xyz", "123456789/AbCdEf-token_xyz"),
        ("dsn https://0123456789abcdef0123456789abcdef@o123.ingest.sentry.io/4567", "0123456789abcdef0123456789abcdef"),
        ("db postgres://u:p@ss@h:5432/app", "p@ss"),
        ("db postgres://u:pa/ss@h:5432/app", "pa/ss"),
        (#"PASSWORD="a b c" next"#, "a b c"),
        (#"PASSWORD='a b c' next"#, "a b c"),
        (#"{"db_password": "x \"y\" z"}"#, #"x \"y\" z"#),
        ("signing-key: abcdef123456", "abcdef123456"),
    ]

    @Test(arguments: leaks.indices)
    func secretsTheReviewFoundAreMasked(_ i: Int) {
        let (text, secret) = Self.leaks[i]
        let out = Redactor(environment: [:]).redact(text)
        #expect(!out.contains(secret), "\(text) -> \(out)")
        #expect(out.contains(Redactor.mask), "\(text) -> \(out)")
    }

    @Test func masksKeepWhatIsNotSecret() {
        let r = Redactor(environment: [:])
        #expect(r.redact("db postgres://u:p@ss@h:5432/app") == "db postgres://u:***@h:5432/app")
        #expect(r.redact("https://u:p@h/path?next=a@b") == "https://u:***@h/path?next=a@b")
        #expect(r.redact(#"PASSWORD="a b c" next"#) == #"PASSWORD="***" next"#)
        #expect(
            r.redact("-e SECRET_KEY_BASE=abc123 -e RAILS_ENV=production")
                == "-e SECRET_KEY_BASE=*** -e RAILS_ENV=production")
        #expect(r.redact("https://hooks.slack.com/services/T0001/B0002/XXXX") == "https://hooks.slack.com/services/***")
        #expect(
            r.redact("https://o1.ingest.sentry.io/4567 and postgres://app@db/x")
                == "https://o1.ingest.sentry.io/4567 and postgres://app@db/x")
        // `key` inside another word is not a secret name.
        #expect(r.redact("keyboard=us monkey=banana keys are 3") == "keyboard=us monkey=banana keys are 3")
    }

    @Test func secretNamesIncludeKeyAsAWord() {
        for name in [
            "SECRET_KEY_BASE", "STRIPE_KEY", "PRIVATE_KEY", "signing-key", "masterKey", "SLACK_WEBHOOK_URL",
            "DB_PASSWORD",
        ] {
            #expect(Redactor.isSecretName(name), "\(name)")
        }
        for name in ["KEYBOARD", "MONKEY", "RAILS_ENV", "url", "known_hosts", "accept_new_host_keys", "identity"] {
            #expect(!Redactor.isSecretName(name), "\(name)")
        }
    }

    /// What the ledger stores (`saveConfig`) and what `changes` diffs are these maps.
    @Test func storedSettingsHideImageEnvAndNotifyURLs() {
        let stored = Redactor(environment: [:]).redact(settings: [
            "image.env.STRIPE_KEY": "sk_live_51HxYzAbCdEfGhIjKl", "image.env.SECRET_KEY_BASE": "abc",
            "image.env.RAILS_ENV": "production",
            "notify[0].url": "https://hooks.slack.com/services/T0001/B0002/XXXX",
            "notify[1].url": "https://discord.com/api/webhooks/1/tok",
            "image.env.SENTRY_DSN": "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/2",
        ])
        #expect(
            stored == [
                "image.env.STRIPE_KEY": "***", "image.env.SECRET_KEY_BASE": "***", "image.env.RAILS_ENV": "production",
                "notify[0].url": "https://hooks.slack.com/services/***",
                "notify[1].url": "https://discord.com/api/webhooks/***",
                "image.env.SENTRY_DSN": "***",
            ])
        let old = Redactor(environment: [:]).redact(settings: [
            "image.env.STRIPE_KEY": "sk_live_oldoldoldoldold",
            "notify[0].url": "https://hooks.slack.com/services/T/B/old",
        ])
        let diff = TimelineBuilder.diff(old, stored).joined(separator: "\n")
        for secret in ["sk_live", "oldoldold", "T0001", "XXXX", "/B/old"] { #expect(!diff.contains(secret), "\(diff)") }
    }

    /// A config value no pattern can delimit (spaces, quotes) is hidden whole wherever it shows up.
    @Test func aRunsRedactorKnowsTheConfigsSecretValues() throws {
        let config = try DeployConfig.parse(
            yaml: """
                app: shop
                hosts: [web-1]
                deploy_to: /srv/shop
                strategy: image
                image: {name: registry.local/shop, container_port: 8080, port: 8080, env: {DB_PASSWORD: "two words 'and' quotes", RAILS_ENV: production}}
                """, directory: NSTemporaryDirectory() + "redact-\(UUID().uuidString)")
        let r = Redactor(config: config, environment: [:])
        let shown = r.redact("-e 'DB_PASSWORD=two words '\\''and'\\'' quotes' -e RAILS_ENV=production")
        #expect(
            !shown.contains("words") && !shown.contains("quotes") && shown.hasSuffix("-e RAILS_ENV=production"),
            "\(shown)")
        #expect(r.redact("error: two words 'and' quotes rejected") == "error: *** rejected")
    }

    /// `exec` output comes line by line: a private key's body lines are masked until its END line.
    @Test func aPrivateKeyReadLineByLineIsMaskedWhole() {
        let r = Redactor(environment: [:])
        var open = false
        let lines = [
            "before", "-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA", "QyNTUxOQAAACBx",
            "-----END OPENSSH PRIVATE KEY-----", "after",
        ]
        let out = lines.map { r.redact(line: $0, inPrivateKey: &open) }
        #expect(out == ["before", "*** private key ***", "***", "***", "***", "after"])
        #expect(!open)
    }
}
