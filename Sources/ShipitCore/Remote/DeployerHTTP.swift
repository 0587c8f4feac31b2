import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// HTTP from the deployer (gates, Prometheus, webhooks, the GitHub API): one request per call on a
/// connection of its own, no cache, no redirects, one deadline for the whole exchange. Built on
/// swift-nio's HTTP/1.1 codec and swift-nio-ssl rather than URLSession: FoundationNetworking loads
/// libcurl and 26 more shared libraries into every shipit process, gates or not.
enum DeployerHTTP {
    struct Response: Sendable {
        var status: Int
        var body: Data
        /// Names lowercased; the last value of a repeated header.
        var headers: [String: String] = [:]
    }

    struct Failure: Error, LocalizedError {
        let message: String
        var errorDescription: String? { message }
    }

    /// Bodies larger than this are cut (a gate reads a small JSON document, an API an answer).
    static let maxBody = 8 << 20

    /// An event loop of its own, started on first use (only runs that send a request pay for it).
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// The TLS client context (the system's trust roots), made once: a gate samples every interval,
    /// and each context reads the trust store again.
    static let tlsContext = Result { try NIOSSLContext(configuration: .makeClientConfiguration()) }

    static func get(_ url: URL, timeout: Double) async throws -> Response {
        try await request("GET", url, timeout: timeout)
    }

    /// `connectTo`: the address to connect to instead of the URL's host, which stays the Host
    /// header and the TLS server name (a front door reached at one host of a fleet). `trusting`:
    /// a CA file trusted besides the system's roots.
    static func request(
        _ method: String, _ url: URL, headers: [(String, String)] = [], body: Data? = nil, timeout: Double,
        connectTo: String? = nil, trusting caFile: String? = nil
    ) async throws -> Response {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let given = url.host,
            !given.isEmpty
        else {
            throw Failure(message: "not an http(s) URL: \(url.absoluteString)")
        }
        let tls = scheme == "https"
        let port = url.port ?? (tls ? 443 : 80)
        var path = url.path.isEmpty ? "/" : url.path
        if let q = url.query { path += "?" + q }
        // An IPv6 literal is connected to bare and named in brackets in the Host header (RFC 7230):
        // `Host: ::1:8080` is no host a server can parse.
        let host = given.hasPrefix("[") && given.hasSuffix("]") ? String(given.dropFirst().dropLast()) : given
        let hostHeader = url.port.map { HostAddress.withPort(host, $0) } ?? HostAddress.bracketed(host)

        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: hostHeader)
        head.headers.add(name: "User-Agent", value: "shipit/\(ShipitVersion.current)")
        head.headers.add(name: "Connection", value: "close")
        for (k, v) in headers { head.headers.add(name: k, value: v) }
        if let body { head.headers.add(name: "Content-Length", value: String(body.count)) }

        // One deadline for the whole exchange, connect included.
        let ends = ContinuousClock.now.advanced(by: .milliseconds(Int(max(timeout, 0.001) * 1000)))
        let loop = group.next()
        let promise = loop.makePromise(of: Response.self)
        let sslContext: NIOSSLContext?
        if tls, let caFile {
            var c = TLSConfiguration.makeClientConfiguration()
            c.additionalTrustRoots = [.file(caFile)]
            sslContext = try NIOSSLContext(configuration: c)
        } else {
            sslContext = tls ? try tlsContext.get() : nil
        }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(max(timeout, 0.001) * 1000)))
            .channelInitializer { channel in
                do {
                    if let sslContext {
                        // An IP address is no server name (SNI); the certificate is still checked against it.
                        let sni = host.first(where: { $0.isLetter }) == nil || host.contains(":") ? nil : host
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: sni))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        do {
            let channel = try await bootstrap.connect(host: connectTo ?? host, port: port).get()
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body {
                var buffer = channel.allocator.buffer(capacity: body.count)
                buffer.writeBytes(body)
                channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
            }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        } catch {
            promise.fail(error)
        }
        do {
            // The deadline, kept by a task of its own: it holds even if the event loop is held up.
            return try await withThrowingTaskGroup(of: Response.self) { race in
                race.addTask { try await promise.futureResult.get() }
                race.addTask {
                    try await Task.sleep(until: ends, clock: .continuous)
                    // Fails the exchange (a completed promise ignores it), then reports what the
                    // exchange came to: a starved process may run this task before the other one
                    // even though the answer came in time, and that answer is not a timeout.
                    promise.fail(Failure(message: "timed out after \(timeout) s"))
                    return try await promise.futureResult.get()
                }
                defer { race.cancelAll() }
                guard let first = try await race.next() else { throw Failure(message: "no answer") }
                return first
            }
        } catch let e as Failure {
            promise.fail(e)
            throw e
        } catch {
            throw Failure(message: Self.describe(error))
        }
    }

    /// An error as an operator reads it ("connection refused", not a type dump).
    static func describe(_ error: Error) -> String {
        if let e = error as? Failure { return e.message }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
        // A loaded event loop may hit the connect timeout before the exchange's own deadline: the
        // same timeout to the operator.
        if let e = error as? ChannelError, case .connectTimeout(let t) = e {
            return "timed out connecting after \(t.nanoseconds / 1_000_000) ms"
        }
        if error is ChannelError { return "\(error)" }
        if let e = error as? NIOSSLError { return "TLS: \(e)" }
        return "\(error)"
    }

    /// The number at a dotted path of a JSON document (`data.error_rate`, `items.0.value`); a
    /// string holding a number counts (Prometheus sends values as strings).
    static func number(in json: JSONValue, at path: String) -> Double? {
        var node = json
        for key in path.split(separator: ".").map(String.init) where !key.isEmpty {
            if let dict = node.object, let v = dict[key] {
                node = v
            } else if let list = node.array, let i = Int(key), list.indices.contains(i) {
                node = list[i]
            } else {
                return nil
            }
        }
        switch node {
        case .number(let n): return n
        case .string(let s): return Double(s)
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}

/// Collects one response: its status and body (up to `DeployerHTTP.maxBody`), complete at its end
/// or when the server closes the connection.
private final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let promise: EventLoopPromise<DeployerHTTP.Response>
    private var status = 0
    private var headers: [String: String] = [:]
    private var body = Data()

    init(promise: EventLoopPromise<DeployerHTTP.Response>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            for (name, value) in head.headers { headers[name.lowercased()] = value }
        case .body(var buffer):
            if body.count < DeployerHTTP.maxBody,
                let bytes = buffer.readBytes(length: min(buffer.readableBytes, DeployerHTTP.maxBody - body.count))
            {
                body.append(contentsOf: bytes)
            }
        case .end: promise.succeed(DeployerHTTP.Response(status: status, body: body, headers: headers))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(
            DeployerHTTP.Failure(
                message: status == 0
                    ? "the server closed the connection without an answer" : "the connection closed mid-answer"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
