import FoundationEssentials

/// One check of one gate: passed or not, the value measured (when the gate measures one), and
/// what the operator reads.
public struct GateSample: Sendable, Codable, Equatable {
    public var gate: String
    public var type: String
    public var ok: Bool
    public var value: Double?
    /// The host it was about (health, per-host http), nil for a fleet-wide gate.
    public var host: String?
    public var detail: String
    /// A proxy gate's sample with too few requests to judge yet (it passes until the bake's time
    /// is up; then the gate's `too_few` decides).
    public var undecided: Bool?
    /// A proxy gate's measurements, per release.
    public var comparison: RequestComparison?

    public init(gate: String, type: String, ok: Bool, value: Double? = nil, host: String? = nil, detail: String) {
        self.gate = gate
        self.type = type
        self.ok = ok
        self.value = value
        self.host = host
        self.detail = detail
    }

    /// `prometheus: 0.83 > max 0.1 (…)`.
    public var line: String { "\(gate)\(host.map { " on \($0)" } ?? ""): \(detail)" }
}
