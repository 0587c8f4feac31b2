import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The deployer's HTTP client (gates, webhooks, the GitHub API) against local servers: a plain one
/// that checks what it receives, and one with TLS whose certificate nobody trusts.
@Suite("deployer HTTP client: NIO HTTP/1.1 and TLS")
struct DeployerHTTPTests {
    /// A python3 server on 127.0.0.1 answering every request with what it received (method, path,
    /// headers, body) as JSON; `tls`: with a throwaway self-signed certificate. It takes a free port
    /// from the kernel and writes it to a file once it listens (two servers of this suite start at
    /// once: a port picked at random could be the other's).
    func server(tls: Bool, v6: Bool = false) async throws -> (Process, Int) {
        let dir = Local.tempDir("http")
        var setup = ""
        if tls {
            _ = try await Local.run([
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/k.pem", "-out",
                dir + "/c.pem",
                "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
            setup = """
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain("\(dir)/c.pem", "\(dir)/k.pem")
                s.socket = ctx.wrap_socket(s.socket, server_side=True)
                """
        }
        let script = """
            import http.server, json, ssl, signal
            # Started with SIGTERM blocked (the test runner's mask is inherited): unblocked, or the
            # test's stop would leave it running.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def answer(self):
                    n = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(n).decode() if n else ""
                    out = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body, "n": 7}).encode()
                    self.send_response(201 if self.command == "POST" else 200)
                    self.send_header("Content-Type", "application/json")
                    if self.path.startswith("/chunked"):
                        self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                        for part in (out[:10], out[10:]):
                            self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(part), part))
                        self.wfile.write(b"0\\r\\n\\r\\n")
                    else:
                        self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
                do_GET = do_POST = answer
                def log_message(self, *a): pass
            class S6(http.server.HTTPServer): address_family = __import__("socket").AF_INET6
            s = S6(("::1", 0), H) if \(v6 ? "True" : "False") else http.server.HTTPServer(("127.0.0.1", 0), H)
            \(setup)
            open("\(dir)/port.tmp", "w").write(str(s.server_address[1])); __import__("os").rename("\(dir)/port.tmp", "\(dir)/port")
            s.serve_forever()
            """
        try script.write(toFile: dir + "/srv.py", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", dir + "/srv.py"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        try await DeployFixture.waitForFile(dir + "/port", timeout: 60)
        let port = try #require(Int(String(contentsOfFile: dir + "/port", encoding: .utf8)))
        return (p, port)
    }

    /// Issue 28, item 12: a URL with an IPv6 literal is connected to, and named in brackets in
    /// the Host header (`::1:8080` is no host a server can parse).
    @Test func anIPv6URLGetsABracketedHostHeader() async throws {
        let (p, port) = try await server(tls: false, v6: true)
        defer { p.stopIfRunning() }
        let get = try await DeployerHTTP.get(URL(string: "http://[::1]:\(port)/x")!, timeout: 30)
        #expect(get.status == 200)
        let g = try #require(try JSONSerialization.jsonObject(with: get.body) as? [String: Any])
        #expect((g["headers"] as? [String: String])?["Host"] == "[::1]:\(port)", "\(g)")
    }

    @Test func getAndPostCarryHeadersAndBodiesAndReadChunkedAnswers() async throws {
        let (p, port) = try await server(tls: false)
        defer { p.stopIfRunning() }
        let get = try await DeployerHTTP.get(URL(string: "http://127.0.0.1:\(port)/metrics.json?x=1")!, timeout: 30)
        #expect(get.status == 200)
        let g = try #require(try JSONSerialization.jsonObject(with: get.body) as? [String: Any])
        #expect(g["path"] as? String == "/metrics.json?x=1" && g["method"] as? String == "GET")
        #expect((g["headers"] as? [String: String])?["User-Agent"]?.hasPrefix("shipit/") == true)
        #expect(DeployerHTTP.number(in: try #require(JSONValue.parse(get.body)), at: "n") == 7)

        let post = try await DeployerHTTP.request(
            "POST", URL(string: "http://127.0.0.1:\(port)/hook")!, headers: [("X-Shipit-Event", "deploy.succeeded")],
            body: Data(#"{"a":1}"#.utf8), timeout: 30)
        #expect(post.status == 201)
        let q = try #require(try JSONSerialization.jsonObject(with: post.body) as? [String: Any])
        #expect(
            q["body"] as? String == #"{"a":1}"#
                && (q["headers"] as? [String: String])?["X-Shipit-Event"] == "deploy.succeeded")

        let chunked = try await DeployerHTTP.get(URL(string: "http://127.0.0.1:\(port)/chunked")!, timeout: 30)
        #expect(
            (try JSONSerialization.jsonObject(with: chunked.body) as? [String: Any])?["path"] as? String == "/chunked")
    }

    @Test func refusedTimedOutAndUntrustedAreErrorsThatSayWhy() async throws {
        // Nothing listens here.
        await #expect(throws: DeployerHTTP.Failure.self) {
            try await DeployerHTTP.get(URL(string: "http://127.0.0.1:9/")!, timeout: 2)
        }
        // A listener that never answers: the deadline ends it.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = 0
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        listen(silent, 4)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &len) }
        }
        do {
            _ = try await DeployerHTTP.get(
                URL(string: "http://127.0.0.1:\(UInt16(bigEndian: a.sin_port))/")!, timeout: 0.5)
            Issue.record("a server that never answers was taken for an answer")
        } catch let e as DeployerHTTP.Failure {
            #expect(e.message.contains("timed out"), "\(e.message)")
            // What gates, notifications and the GitHub client print: the message, not a type dump.
            #expect(DeployerHTTP.describe(e) == e.message)
        }
        // (How soon it ends is not asserted: a busy test process may resume the deadline late. That
        // it ends at all is the point: this server never answers.)

        // TLS: the handshake happens, and a certificate no one trusts is refused.
        let (p, port) = try await server(tls: true)
        defer { p.stopIfRunning() }
        do {
            _ = try await DeployerHTTP.get(URL(string: "https://127.0.0.1:\(port)/")!, timeout: 30)
            Issue.record("an untrusted certificate was accepted")
        } catch let e as DeployerHTTP.Failure {
            #expect(e.message.contains("TLS") || e.message.lowercased().contains("certificate"), "\(e.message)")
        }
    }
}
