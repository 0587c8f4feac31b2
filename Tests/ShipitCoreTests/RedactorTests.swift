import Foundation
import ShipitCore
import Testing

@Suite("secrets are redacted before output and the ledger")
struct RedactorTests {
    let r = Redactor(environment: ["DATABASE_URL": "postgres://app:s3cr3t-pw@db:5432/app", "MY_API_TOKEN": "tok-123456789",
                                   "HOME": "/home/ops", "SHORT_SECRET": "abc"])

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
        #expect(r.redact("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----") == "*** private key ***")
        #expect(r.redact("deploy 20261128T053408.418Z-f8bf13bb ok") == "deploy 20261128T053408.418Z-f8bf13bb ok")
    }

    @Test func masksSecretNamedSettings() {
        let s = r.redact(settings: ["env.DB_PASSWORD": "x", "health.port": "8080", "ssh.identity": "/keys/id", "url": "https://u:p4ss@h/"])
        #expect(s == ["env.DB_PASSWORD": "***", "health.port": "8080", "ssh.identity": "/keys/id", "url": "https://u:***@h/"])
    }
}

extension RedactorTests {
    @Test func matchesStartOnlyAtTheirTriggers() {
        let r = Redactor(environment: [:])
        #expect(r.redact("1https://u:p4ss@h/ and api_key=zz, mypassword: 'q'") == "1https://u:***@h/ and api_key=***, mypassword: '***'")
        #expect(r.redact("xAKIAABCDEFGHIJKLMNOP used") == "xAKIAABCDEFGHIJKLMNOP used")
        #expect(r.redact("a\nghp_abcdefghijklmnopqrstuvwxyz\nb") == "a\n***\nb")
        // Log lines full of trigger words but no secret stay as they are.
        let line = "GET http://example.org/health 200 secret-free token count=3 password through the high road\n"
        let text = String(repeating: line, count: 1000)
        #expect(r.redact(text) == text)
    }
}
