import FoundationEssentials
import NIOSSL

/// `shipit certs`: what each host's front door serves for the app (expiry, the same certificate
/// everywhere), a renewal installed on every host, and the ACME hooks' challenge answers.
public struct FrontDoorCerts: Sendable {
    public let config: DeployConfig
    public let transport: HostTransport
    let door: FrontDoor

    public init(config: DeployConfig, transport: HostTransport) throws {
        guard let door = Strategies.make(config).traffic?.frontDoor, door.settings.tls != nil else {
            throw ShipitError.input("certs: \(config.file) has no front door with tls (traffic.hosts and traffic.tls)")
        }
        self.config = config
        self.transport = transport
        self.door = door
    }

    var hosts: [String] { config.hosts.filter(config.hostRoles.runsApp) }

    /// One host's certificate, as it serves it.
    public struct Served: Sendable, Equatable {
        public var file: String
        public var notAfter: Date
        /// The SHA-256 of the leaf certificate (DER), hex: the same on every host or not.
        public var fingerprint: String
        public var names: [String]
    }

    /// Host → its certificate (nil: none), or why it could not be read.
    public func served(hosts only: [String]? = nil) async -> [String: Result<Served?, ShipitError>] {
        await Fleet.bounded(only ?? hosts, limit: config.connection.parallel) { [transport, door] host in
            let out: ScriptOutput
            switch await transport.runScript(host, door.servedCertificateScript(host: host).command) {
            case .success(let o): out = o
            case .failure(let e): return .failure(e)
            }
            do {
                guard let file = out.first("cert"), file != "none" else { return .success(nil) }
                guard let b64 = out.first("cert.b64"), let pem = Data(base64Encoded: b64),
                    let leaf = try NIOSSLCertificate.fromPEMBytes(Array(pem)).first
                else { return .failure(ShipitError("\(file): not a certificate")) }
                return .success(
                    Served(
                        file: file, notAfter: Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)),
                        fingerprint: try Digest.sha256Hex(Data(leaf.toDERBytes())),
                        names: CertificatePairCheck.dnsNames(leaf)))
            } catch {
                return .failure(ShipitError("\(out.first("cert") ?? "?"): not a certificate (\(error))"))
            }
        }
    }

    /// What `served` found wrong, host by host (`CertificateFindings`): due within
    /// `acme.renew_days` (its default with certificate files).
    public func findings(_ served: [String: Result<Served?, ShipitError>]) -> [String: [CertificateFindings.Finding]] {
        CertificateFindings.judge(
            served, renewDays: door.settings.acme?.renewDays ?? FrontDoorSettings.ACME.defaultRenewDays)
    }

    /// The certificate pair on the deployer installed in every host's front door (the deploy's
    /// front door step, without a release): host → nil when done, else why not.
    public func install() async throws(ShipitError) -> [String: String?] {
        guard let pair = try door.certificatePair(app: config.app) else {
            throw ShipitError("certs: no certificate on the deployer yet: deploy (or shipit certs renew) first")
        }
        let supervision = Supervision(settings: config.supervisor, app: config.app, layout: config.layout)
        return await Fleet.bounded(hosts, limit: config.connection.parallel) { [transport, door, config] host in
            // Only where a deploy put the app in the front door: a renewal installs a certificate,
            // nothing else a deploy does.
            let script = door.script(
                host: host, app: config.app, cert: pair, supervision: supervision, onlyWherePresent: true)
            if case .failure(let why) = await transport.runScript(host, script.command, stdin: pair.stdin) {
                return why.message
            }
            return nil
        }
    }

    /// An ACME challenge's answer placed in every host's front door (nil: removed). Every host
    /// must take it: the CA may reach any of them.
    public func challenge(token: String, answer: String?) async throws(ShipitError) -> [String: String?] {
        guard FrontDoor.isToken(token) else { throw .input("CERTBOT_TOKEN: not an ACME token") }
        if let answer, !answer.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) {
            throw .input("CERTBOT_VALIDATION: not an ACME key authorization")
        }
        return await Fleet.bounded(hosts, limit: config.connection.parallel) { [transport, door] host in
            let script = door.challengeScript(host: host, token: token, answer: answer)
            if case .failure(let why) = await transport.runScript(host, script.command) { return why.message }
            return nil
        }
    }
}
