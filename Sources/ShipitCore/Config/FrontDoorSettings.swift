import FoundationEssentials

/// `traffic.hosts` and what goes with it (docs/front-door.md): the app's server in the host-wide
/// proxy every shipit app of the host shares, chosen by host name on shared public ports, with
/// HTTPS from certificate files on the deployer.
public struct FrontDoorSettings: Sendable, Equatable {
    /// The names the app answers to (nginx `server_name`); the first is what the smoke test asks for.
    public var names: [String]
    /// The shared plain-HTTP port: `health.port` (with TLS it redirects to HTTPS, but for ACME's
    /// HTTP-01 challenges).
    public var httpPort: Int
    /// The shared HTTPS port, with `tls`.
    public var httpsPort: Int = 443
    public var tls: TLSFiles?
    /// `Strict-Transport-Security: max-age=…` on every HTTPS answer (nil: none).
    public var hstsSeconds: Int?
    /// `tls: acme`: the certificate ordered from the deployer (`tls` then names the files it keeps).
    public var acme: ACME?

    /// An ACME CA and what the deployer keeps of it: certbot's account, certificates and logs.
    public struct ACME: Sendable, Equatable {
        public var email: String
        public var directory = "https://acme-v02.api.letsencrypt.org/directory"
        /// A CA file for the directory's own HTTPS (a private or test CA).
        public var directoryCA: String?
        /// certbot's directory on the deployer (its config, work and logs directories inside).
        public var stateDir: String
        /// A certificate that expires within this many days is ordered again.
        public var renewDays = Self.defaultRenewDays
        /// `renew_days` unless set; also when a certificate from files is due (`shipit certs`).
        public static let defaultRenewDays = 30
        public var certbot = "certbot"
        /// The name of the certificate in `stateDir` (the app's).
        public var certName: String

        /// Where certbot keeps the certificate chain and its key.
        public var chainFile: String { stateDir + "/config/live/" + certName + "/fullchain.pem" }
        public var keyFile: String { stateDir + "/config/live/" + certName + "/privkey.pem" }
    }

    /// A certificate chain and its key, PEM files on the deployer (read at every deploy).
    public struct TLSFiles: Sendable, Equatable {
        public var cert: String
        public var key: String
        /// A CA file the deployer trusts for the public smoke test besides the system's roots (a
        /// private CA); hosts and users never see it.
        public var ca: String?

        /// Both files' bytes; a file that cannot be read is named by its field.
        public func read() throws(ShipitError) -> (cert: Data, key: Data) {
            guard let c = FileManager.default.contents(atPath: cert) else {
                throw .input("traffic.tls.cert: cannot read \(cert)")
            }
            guard let k = FileManager.default.contents(atPath: key) else {
                throw .input("traffic.tls.key: cannot read \(key)")
            }
            return (c, k)
        }
    }

    /// The name the public smoke test asks for: the first that is no wildcard (else the first
    /// wildcard's domain under a label of its own).
    public var probeName: String {
        names.first { !$0.hasPrefix("*.") } ?? "shipit-probe" + names[0].dropFirst()
    }

    /// The port the public smoke test asks: HTTPS with TLS.
    public var publicPort: Int { tls == nil ? httpPort : httpsPort }
}

extension FrontDoorSettings {
    /// A DNS name nginx can hold unquoted in `server_name` (and a certificate can name): labels of
    /// letters, digits and '-', a leading `*.` for a wildcard.
    static func isHostName(_ s: String) -> Bool {
        let body = s.hasPrefix("*.") ? String(s.dropFirst(2)) : s
        guard !body.isEmpty, body.count <= 253, body.contains(".") || body == "localhost" || !s.hasPrefix("*.") else {
            return false
        }
        return body.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// From the keys of `traffic:` (nil without `hosts`). `health.port` is the HTTP port.
    static func parse(
        _ m: [String: YAMLReader], health: DeployConfig.Health, mode: TrafficSettings.Mode, baseDir: String,
        app: String
    ) throws -> FrontDoorSettings? {
        guard let hr = m["hosts"] else {
            if let extra = ["http_port", "https_port", "tls", "hsts", "acme"].first(where: { m[$0] != nil }) {
                throw m[extra]!.fail(
                    "'\(extra)' is for the host-wide proxy: give 'hosts' (the names this app answers to)")
            }
            return nil
        }
        guard mode == .managed else {
            throw hr.fail("'hosts' needs the managed proxy (mode: managed): the host-wide proxy is shipit's own nginx")
        }
        var names: [String] = []
        for item in try hr.sequence() {
            let n = try item.string().lowercased()
            guard isHostName(n) else {
                throw item.fail(
                    "\(HostName.debugQuoted(n)) is not a host name (letters, digits, '-' and '.'; '*.' for a wildcard)")
            }
            guard !names.contains(n) else { throw item.fail("\(n) is listed twice") }
            names.append(n)
        }
        guard !names.isEmpty else { throw hr.fail("expected at least one host name") }
        var f = FrontDoorSettings(names: names, httpPort: health.port)
        if let v = m["http_port"] {
            let p = try v.int(1...65535)
            guard p == health.port else {
                throw v.fail(
                    "\(p) differs from health.port \(health.port): with 'hosts', the public HTTP port is health.port; give one value"
                )
            }
        }
        if let v = m["https_port"] {
            f.httpsPort = try v.int(1...65535)
            guard f.httpsPort != health.port else { throw v.fail("must differ from the HTTP port \(health.port)") }
        }
        if let v = m["hsts"] {
            if case .scalar = v.node, let b = try? v.bool() {
                f.hstsSeconds = b ? 31_536_000 : nil
            } else {
                do { f.hstsSeconds = try v.int(0...63_072_000) } catch {
                    throw v.fail("expected true, false or a max-age in seconds (0 to 63072000)")
                }
            }
        }
        if let tr = m["tls"], case .scalar = tr.node {
            guard try tr.string() == "acme" else { throw tr.fail("expected 'acme' or a mapping with 'cert' and 'key'") }
            guard let ar = m["acme"] else { throw tr.fail("tls: acme needs 'acme' (at least its email)") }
            if let w = names.first(where: { $0.hasPrefix("*.") }) {
                throw hr.fail("\(w): a wildcard needs a DNS-01 challenge; tls: acme answers HTTP-01 only")
            }
            let a = try ar.mapping(allowed: [
                "email", "directory", "directory_ca", "roots", "dir", "renew_days", "certbot",
            ])
            guard let e = a["email"] else { throw ar.fail("missing required key 'email' (the ACME account's contact)") }
            let email = try e.string()
            guard email.contains("@"), email.allSatisfy({ $0.isASCII && !$0.isWhitespace && !"'\"\\;$`".contains($0) })
            else {
                throw e.fail("expected an email address")
            }
            var acme = ACME(
                email: email,
                stateDir: DeployConfig.expand(try a["dir"]?.string() ?? ".shipit/acme/" + app, relativeTo: baseDir),
                certName: app)
            if let v = a["directory"] {
                let d = try v.string()
                // Plain HTTP only to this machine (a local test CA).
                let host = URL(string: d)?.host ?? ""
                let local =
                    host == "localhost" || host == "::1"
                    || (host.hasPrefix("127.") && host.split(separator: ".").count == 4
                        && host.allSatisfy { $0.isNumber || $0 == "." })
                guard d.hasPrefix("https://") || (d.hasPrefix("http://") && local) else {
                    throw v.fail("expected an https:// URL")
                }
                acme.directory = d
            }
            acme.directoryCA = try a["directory_ca"].map { DeployConfig.expand(try $0.string(), relativeTo: baseDir) }
            if let v = a["renew_days"] { acme.renewDays = try v.int(1...89) }
            if let v = a["certbot"] { acme.certbot = try v.string() }
            f.acme = acme
            f.tls = TLSFiles(
                cert: acme.chainFile, key: acme.keyFile,
                ca: try a["roots"].map { DeployConfig.expand(try $0.string(), relativeTo: baseDir) })
        } else if let extra = m["acme"] {
            throw extra.fail("is for tls: acme")
        } else if let tr = m["tls"] {
            let t = try tr.mapping(allowed: ["cert", "key", "ca"])
            guard let c = t["cert"], let k = t["key"] else {
                throw tr.fail("expected 'cert' and 'key' (PEM files on the deployer)")
            }
            f.tls = TLSFiles(
                cert: DeployConfig.expand(try c.string(), relativeTo: baseDir),
                key: DeployConfig.expand(try k.string(), relativeTo: baseDir),
                ca: try t["ca"].map { DeployConfig.expand(try $0.string(), relativeTo: baseDir) })
        } else if m["https_port"] != nil || m["hsts"] != nil {
            throw (m["https_port"] ?? m["hsts"]!).fail("is for HTTPS: give 'tls' (cert and key)")
        }
        if f.acme == nil, let tls = f.tls,
            [tls.cert, tls.key].contains(where: { !FileManager.default.isReadableFile(atPath: $0) })
        {
            let missing = FileManager.default.isReadableFile(atPath: tls.cert) ? "key" : "cert"
            throw (m["tls"]!).fail("\(missing): cannot read \(missing == "cert" ? tls.cert : tls.key) on this machine")
        }
        guard health.checkFrom == .deployer || f.tls == nil else {
            throw m["tls"]!.fail(
                "the public HTTPS check runs from the deployer: health.check_from: host is not supported with tls")
        }
        return f
    }
}
