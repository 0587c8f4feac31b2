import Foundation

/// A throwaway certificate authority (openssl), for TLS tests that need certificates but not
/// ACME: a CA the test's clients trust, and certificates with a subjectAltName per name.
public struct TestCA: Sendable {
    public let dir: String
    public var caFile: String { caFileOverride ?? dir + "/ca.crt" }

    /// A CA made elsewhere (pebble's roots): its file only, nothing issued here.
    public init(existing dir: String, caFile: String) throws {
        self.dir = dir
        self.caFileOverride = caFile
    }

    let caFileOverride: String?

    public init() throws {
        dir = Local.tempDir("shipit-ca")
        caFileOverride = nil
        _ = try Local.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/ca.key", "-out", caFile,
            "-days", "30", "-subj", "/CN=shipit test CA",
        ])
    }

    /// A certificate for `names` (an ECDSA P-256 key, or RSA with `rsa`) as `<file>.crt` and
    /// `<file>.key`, signed by the CA, valid for `days`.
    @discardableResult
    public func issue(_ names: [String], file: String, rsa: Bool = false, days: Int = 90) throws -> (
        cert: String, key: String
    ) {
        let base = dir + "/" + file
        let newKey = rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        _ = try Local.run(
            ["openssl", "req"] + newKey + [
                "-nodes", "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(names[0])",
            ])
        try "subjectAltName=\(names.map { "DNS:" + $0 }.joined(separator: ","))\n".write(
            toFile: base + ".ext", atomically: true, encoding: .utf8)
        _ = try Local.run([
            "openssl", "x509", "-req", "-in", base + ".csr", "-CA", caFile, "-CAkey", dir + "/ca.key",
            "-CAcreateserial", "-out", base + ".crt", "-days", String(days), "-extfile", base + ".ext",
        ])
        return (base + ".crt", base + ".key")
    }

    /// The serial number of the certificate a TLS server at `address:port` presents for `name`.
    public func servedSerial(_ address: String, _ port: Int, name: String) throws -> String {
        let out = try Local.run([
            "sh", "-c",
            "openssl s_client -connect \"$1:$2\" -servername \"$3\" -CAfile \"$4\" </dev/null 2>/dev/null | openssl x509 -noout -serial",
            "sh", address, String(port), name, caFile,
        ])
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The serial number of a certificate file.
    public func serial(of cert: String) throws -> String {
        try Local.run(["openssl", "x509", "-noout", "-serial", "-in", cert]).trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
}
