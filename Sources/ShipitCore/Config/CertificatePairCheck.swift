import Crypto
import FoundationEssentials
import NIOSSL
import _CryptoExtras

/// `traffic.tls`'s certificate and key checked on the deployer before any host is touched: the
/// first certificate of the chain parses, is valid now, names every host name of the app (a
/// wildcard covers one label), and its public key is the key's.
public enum CertificatePairCheck {
    public struct Facts: Sendable, Equatable {
        public var names: [String]
        public var notAfter: Date
    }

    public static func check(cert: Data, key: Data, names: [String], now: Date = Date()) throws(ShipitError) -> Facts {
        let leaf: NIOSSLCertificate
        do {
            guard let first = try NIOSSLCertificate.fromPEMBytes(Array(cert)).first else {
                throw ShipitError.input("traffic.tls.cert: no certificate in the file")
            }
            leaf = first
        } catch let e as ShipitError {
            throw e
        } catch {
            throw .input("traffic.tls.cert: not a PEM certificate (\(error))")
        }
        let covered = dnsNames(leaf)
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        if notAfter <= now {
            throw .input("traffic.tls.cert: the certificate expired at \(UTCTime.iso(notAfter))")
        }
        if let missing = names.first(where: { !covers(covered, $0) }) {
            throw .input(
                "traffic.tls.cert: the certificate does not cover \(missing) (it names \(covered.isEmpty ? "no DNS name" : covered.joined(separator: ", ")))"
            )
        }
        let certKey: [UInt8]
        do { certKey = try leaf.extractPublicKey().toSPKIBytes() } catch {
            throw .input("traffic.tls.cert: cannot read its public key (\(error))")
        }
        guard let pem = String(data: key, encoding: .utf8), let keyPublic = publicKeyDER(pem: pem) else {
            throw .input("traffic.tls.key: not a PEM private key shipit can read (RSA, or ECDSA P-256, P-384 or P-521)")
        }
        guard Array(keyPublic) == certKey else {
            throw .input("traffic.tls.key: the key does not belong to the certificate traffic.tls.cert names")
        }
        return Facts(names: covered, notAfter: notAfter)
    }

    /// The certificate's DNS names (subjectAltName), lowercased.
    static func dnsNames(_ cert: NIOSSLCertificate) -> [String] {
        cert._subjectAlternativeNames().compactMap { san in
            guard san.nameType == .dnsName else { return nil }
            return String(decoding: Array(san.contents), as: UTF8.self).lowercased()
        }
    }

    /// Whether `name` is one of `covered`, or under a wildcard of it (`*.a.test` covers `x.a.test`,
    /// not `a.test` nor `y.x.a.test`). A wildcard name of the app must be in the certificate as is.
    static func covers(_ covered: [String], _ name: String) -> Bool {
        if covered.contains(name) { return true }
        guard !name.hasPrefix("*."), let dot = name.firstIndex(of: ".") else { return false }
        return covered.contains("*" + name[dot...])
    }

    private static func publicKeyDER(pem: String) -> Data? {
        if let k = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) { return k.publicKey.derRepresentation }
        if let k = try? P256.Signing.PrivateKey(pemRepresentation: pem) { return k.publicKey.derRepresentation }
        if let k = try? P384.Signing.PrivateKey(pemRepresentation: pem) { return k.publicKey.derRepresentation }
        if let k = try? P521.Signing.PrivateKey(pemRepresentation: pem) { return k.publicKey.derRepresentation }
        return nil
    }
}
