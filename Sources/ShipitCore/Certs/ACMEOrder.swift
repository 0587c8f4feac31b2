import FoundationEssentials
import NIOSSL

/// `tls: acme` (docs/front-door.md): one certificate for the app's names, ordered from the
/// deployer with certbot (Debian's, packaged and kept by Let's Encrypt's own people), which answers
/// the CA's HTTP-01 challenges through hooks: `shipit certs challenge` places each token in every
/// host's front door at once, so whichever host the CA reaches answers. The certificate and its key
/// stay in certbot's directory on the deployer; a deploy (or `shipit certs renew`) installs them
/// on every host as it installs certificate files.
public struct ACMEOrder: Sendable {
    public let acme: FrontDoorSettings.ACME
    public let names: [String]
    /// How the hooks call this shipit back: its path, and the config (and stage) to load.
    public let hook: [String]

    public init(acme: FrontDoorSettings.ACME, names: [String], hook: [String]) {
        self.acme = acme
        self.names = names
        self.hook = hook
    }

    /// The order `config`'s front door asks for (nil without `tls: acme`), its hooks calling this
    /// shipit back with the same config, stage and connection flags.
    public init?(config: DeployConfig) {
        guard let door = config.traffic?.frontDoor, let acme = door.acme else { return nil }
        self.init(
            acme: acme, names: door.names,
            hook: Self.hook(configFile: config.file, stage: config.stage, flags: config.passedFlags))
    }

    /// How certbot's hooks call this shipit back for `configFile`: `shipit certs challenge`.
    public static func hook(configFile: String, stage: String?, flags: [String] = []) -> [String] {
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let config =
            configFile.hasPrefix("/") ? configFile : FileManager.default.currentDirectoryPath + "/" + configFile
        return [me, "certs", "challenge", "--config", config] + (stage.map { ["--stage", $0] } ?? []) + flags
    }

    /// Why a certificate must be ordered now (nil: the one on the deployer will do): none yet,
    /// one that does not cover every name, or one that expires within `renew_days`.
    public func due(now: Date = Date()) -> String? {
        guard let pem = FileManager.default.contents(atPath: acme.chainFile),
            let leaf = try? NIOSSLCertificate.fromPEMBytes(Array(pem)).first
        else { return "no certificate yet" }
        let covered = CertificatePairCheck.dnsNames(leaf)
        if let missing = names.first(where: { !CertificatePairCheck.covers(covered, $0) }) {
            return "the certificate does not cover \(missing)"
        }
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let days = Int(notAfter.timeIntervalSince(now) / 86400)
        return days < acme.renewDays ? "it expires in \(max(days, 0)) day(s)" : nil
    }

    /// What the order left on the deployer, checked as certificate files are: it covers every
    /// name, is valid, and its key is the certificate's. Nothing else is ever installed.
    public func checkOrdered() throws(ShipitError) {
        guard let cert = FileManager.default.contents(atPath: acme.chainFile),
            let key = FileManager.default.contents(atPath: acme.keyFile)
        else { throw ShipitError("the ACME order left no certificate in \(acme.stateDir)") }
        _ = try CertificatePairCheck.check(cert: cert, key: key, names: names)
    }

    /// The command line: a certificate for every name, HTTP-01 through the hooks, an ECDSA key,
    /// nothing asked.
    func arguments(force: Bool) -> [String] {
        let hookLine = hook.map(ShellQuote.quote).joined(separator: " ")
        var a = [
            acme.certbot, "certonly", "--non-interactive", "--agree-tos", "--no-eff-email", "-m", acme.email,
            "--server", acme.directory, "--config-dir", acme.stateDir + "/config", "--work-dir",
            acme.stateDir + "/work",
            "--logs-dir", acme.stateDir + "/logs", "--cert-name", acme.certName, "--key-type", "ecdsa",
            "--manual", "--preferred-challenges", "http",
            "--manual-auth-hook", hookLine, "--manual-cleanup-hook", hookLine + " --cleanup",
        ]
        for n in names { a += ["-d", n] }
        if force { a.append("--force-renewal") }
        return a
    }

    /// Orders the certificate (again, when there is one), then checks what the order left.
    public func renew() async throws(ShipitError) {
        try await order(force: FileManager.default.fileExists(atPath: acme.chainFile))
        try checkOrdered()
    }

    /// Orders the certificate (again, with `force`). certbot's own output is kept for the error.
    public func order(force: Bool) async throws(ShipitError) {
        var env = ProcessInfo.processInfo.environment
        if let ca = acme.directoryCA { env["REQUESTS_CA_BUNDLE"] = ca }
        do {
            try FileManager.default.createDirectory(atPath: acme.stateDir, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: acme.stateDir)
        } catch {
            throw .input("traffic.acme.dir: cannot create \(acme.stateDir)")
        }
        let status: Int32
        let out: String
        do {
            (status, out) = try await LocalProcess.runStatusDetached(arguments(force: force), env: env, keepTail: 4000)
        } catch {
            throw ShipitError("traffic.acme: cannot run \(acme.certbot) (Debian: apt-get install certbot): \(error)")
        }
        guard status == 0 else {
            let why = out.split(separator: "\n").filter {
                $0.contains("Detail:") || $0.contains("Error") || $0.contains("error")
            }.prefix(3).joined(separator: " ")
            throw ShipitError(
                "the ACME order for \(names.joined(separator: ", ")) failed: \(why.isEmpty ? String(out.suffix(300)) : why)"
            )
        }
    }
}
