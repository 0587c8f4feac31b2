import FoundationEssentials
import SSH

/// The status line, headers and body of an HTTP/1.x answer; enough for health checks.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var body: String
    /// Header names lowercased; the last value of a repeated header.
    public var headers: [String: String] = [:]

    public static func parse(_ raw: Data) throws -> HTTPResponse {
        let text = String(decoding: raw, as: UTF8.self)
        guard let firstLine = text.split(separator: "\r\n", maxSplits: 1).first ?? text.split(separator: "\n").first
        else {
            throw ShipitError("empty HTTP response")
        }
        let parts = firstLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw ShipitError("not an HTTP response: \(firstLine.prefix(80))")
        }
        let end = text.firstRange(of: "\r\n\r\n")
        let body = end.map { String(text[$0.upperBound...]) } ?? ""
        var headers: [String: String] = [:]
        for line in text[..<(end?.lowerBound ?? text.endIndex)].split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmed()
        }
        return HTTPResponse(status: status, body: body, headers: headers)
    }
}
