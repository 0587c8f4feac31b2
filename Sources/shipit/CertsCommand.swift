import ArgumentParser
import FoundationEssentials
import ShipitCore

struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "The front door's certificate of this app: what each host serves, renewal, ACME challenges.",
        subcommands: [CertsShowCommand.self, CertsRenewCommand.self, CertsChallengeCommand.self],
        defaultSubcommand: CertsShowCommand.self
    )
}

struct CertsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract:
            "The certificate each host serves for the app: when it expires, and whether every host serves the same one (exit 1 when not, or when one is due)."
    )

    @OptionGroup var common: ConfigOptions

    func run() async throws {
        let config = try common.load()
        let (served, findings) = try await withFleet(config) {
            let certs = try FrontDoorCerts(config: config, transport: $0)
            let served = await certs.served()
            return (served, certs.findings(served))
        }
        var bad = 0
        for h in config.hosts {
            guard let result = served[h] else {
                Console.shared.out("\(h): runs no app: no front door")
                continue
            }
            let notes = (findings[h] ?? []).map(\.detail)
            if !notes.isEmpty { bad += 1 }
            if case .success(let s?) = result {
                let days = Int(s.notAfter.timeIntervalSinceNow / 86400)
                Console.shared.out(
                    "\(h): \(s.names.joined(separator: ", ")) until \(UTCTime.iso(s.notAfter)) (\(days) days), sha256 \(s.fingerprint.prefix(16))"
                        + (notes.isEmpty ? "" : ": " + notes.joined(separator: "; ")))
            } else {
                Console.shared.out("\(h): " + notes.joined(separator: "; "))
            }
        }
        if bad > 0 { throw ExitCode(ShipitExit.failure.rawValue) }
    }
}

struct CertsRenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract:
            "Order the app's certificate again now (tls: acme) and install it in every host's front door, with no request lost; with certificate files, install them."
    )

    @OptionGroup var common: ConfigOptions

    @Flag(
        name: .customLong("if-due"),
        help:
            "Only when the certificate on the deployer is missing or expires within acme.renew_days (for a daily timer)."
    )
    var ifDue = false

    func run() async throws {
        let config = try common.load()
        if let order = ACMEOrder(config: config) {
            let names = order.names.joined(separator: ", ")
            let due = order.due()
            if ifDue, due == nil {
                // Nothing ordered; the install below still brings a host that missed one in line.
                Console.shared.out("the certificate for \(names) is not due: no order")
            } else {
                Console.shared.out(
                    "ordering a certificate for \(names) from \(order.acme.directory)" + (due.map { ": \($0)" } ?? ""))
                try await order.renew()
            }
        }
        let results = try await withFleet(config) { try await FrontDoorCerts(config: config, transport: $0).install() }
        var failed = 0
        for h in config.hosts {
            guard let r = results[h] else { continue }
            if let why = r {
                failed += 1
                Console.shared.out("\(h): FAILED: \(why)")
            } else {
                Console.shared.out("\(h): certificate installed")
            }
        }
        if failed > 0 { throw ExitCode(ShipitExit.failure.rawValue) }
    }
}

/// certbot's hooks: `CERTBOT_TOKEN` and `CERTBOT_VALIDATION` from its environment, placed in (or,
/// with `--cleanup`, removed from) every host's front door.
struct CertsChallengeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "challenge",
        abstract: "certbot's HTTP-01 hook: place CERTBOT_TOKEN's answer in every host's front door.",
        shouldDisplay: false
    )

    @OptionGroup var common: ConfigOptions

    @Flag(name: .long, help: "Remove the token's answer instead.")
    var cleanup = false

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let token = env["CERTBOT_TOKEN"], let answer = env["CERTBOT_VALIDATION"] else {
            throw ShipitError.input("certs challenge: run by certbot, with CERTBOT_TOKEN and CERTBOT_VALIDATION set")
        }
        let config = try common.load()
        let results = try await withFleet(config) {
            try await FrontDoorCerts(config: config, transport: $0).challenge(
                token: token, answer: cleanup ? nil : answer)
        }
        let failed = results.compactMap { h, r in r.map { "\(h): \($0)" } }
        guard failed.isEmpty || cleanup else {
            Console.shared.err("shipit certs challenge: " + failed.sorted().joined(separator: "; "))
            throw ExitCode(ShipitExit.failure.rawValue)
        }
    }
}
