import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// HTTP from the deployer (gates, Prometheus, webhooks, the GitHub API): one URLSession,
/// one request per sample, no caching, a timeout per request.
struct DeployerHTTP: Sendable {
    struct Response: Sendable {
        var status: Int
        var body: Data
    }

    static let session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        c.urlCache = nil
        c.httpAdditionalHeaders = ["User-Agent": "shipit/\(ShipitVersion.current)"]
        return URLSession(configuration: c)
    }()

    static func get(_ url: URL, timeout: Double) async throws -> Response {
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        let (data, response) = try await session.data(for: request)
        return Response(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// The number at a dotted path of a JSON document (`data.error_rate`, `items.0.value`); a
    /// string holding a number counts (Prometheus sends values as strings).
    static func number(in json: Any, at path: String) -> Double? {
        var node: Any? = json
        for key in path.split(separator: ".").map(String.init) where !key.isEmpty {
            if let dict = node as? [String: Any] { node = dict[key] } else if let list = node as? [Any], let i = Int(key), list.indices.contains(i) { node = list[i] } else { return nil }
        }
        // (On Linux a JSON 0 or 1 also casts to Bool, so booleans are not told apart: 0 and 1.)
        if let n = node as? NSNumber { return n.doubleValue }
        if let s = node as? String { return Double(s) }
        return nil
    }
}
