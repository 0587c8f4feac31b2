import FoundationEssentials

/// What is wrong with the certificates a fleet's front doors serve for an app, per host: shared by
/// `shipit certs`, `check` and `triage`. A certificate that differs from the one most hosts serve
/// is a finding (a renewal that reached some hosts only); so is one that expires within the
/// renewal window, one that has expired, or none at all.
public enum CertificateFindings {
    public enum Severity: Sendable, Equatable { case due, broken }

    public struct Finding: Sendable, Equatable {
        public var severity: Severity
        public var detail: String
    }

    public static func judge(
        _ served: [String: Result<FrontDoorCerts.Served?, ShipitError>], renewDays: Int, now: Date = Date()
    ) -> [String: [Finding]] {
        var counts: [String: Int] = [:]
        for case .success(let s?) in served.values { counts[s.fingerprint, default: 0] += 1 }
        // The most common certificate (ties: the one that lasts longest is no better a guess, so
        // the smallest fingerprint, for a stable answer).
        let usual = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
        var out: [String: [Finding]] = [:]
        for (host, result) in served {
            var f: [Finding] = []
            switch result {
            case .failure(let e):
                f.append(Finding(severity: .broken, detail: "cannot read its certificate: \(e.message)"))
            case .success(nil): f.append(Finding(severity: .broken, detail: "no certificate in the front door"))
            case .success(let s?):
                let days = Int(s.notAfter.timeIntervalSince(now) / 86400)
                if s.notAfter <= now {
                    f.append(
                        Finding(severity: .broken, detail: "its certificate expired at \(UTCTime.iso(s.notAfter))"))
                } else if days < renewDays {
                    f.append(
                        Finding(
                            severity: .due,
                            detail:
                                "its certificate expires in \(days) day(s) (\(UTCTime.iso(s.notAfter))): renew it (shipit certs renew)"
                        ))
                }
                if let usual, s.fingerprint != usual {
                    f.append(
                        Finding(
                            severity: .broken,
                            detail:
                                "serves another certificate than \(counts[usual] ?? 0) other host(s) (sha256 \(s.fingerprint.prefix(16)), not \(usual.prefix(16)))"
                        ))
                }
            }
            if !f.isEmpty { out[host] = f }
        }
        return out
    }
}
