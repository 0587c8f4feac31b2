import FoundationEssentials
import ShipitSupport

/// The HTML picture of one run, from the ledger: what `shipit report --html` writes, and what a
/// deploy or rollback can leave in a directory once it is over.
public enum RunReport {
    /// The page for an attempt, its steps and its recorded settings (pure).
    public static func html(attempt: LedgerAttempt, steps: [LedgerStep], settings: [String: String]) -> String {
        ReportHTML.render(RunPicture(attempt: attempt, steps: steps, settings: settings))
    }

    /// The page for `attemptID`, read from `ledger`.
    public static func html(attemptID: String, ledger: Ledger) async throws -> String {
        guard let attempt = try await ledger.attempt(attemptID) else {
            throw ShipitError.input("no attempt \(attemptID) in the ledger \(ledger.location)")
        }
        let steps = try await ledger.steps(attemptID: attemptID)
        let settings = try await ledger.config(hash: attempt.configHash) ?? attempt.config
        return html(attempt: attempt, steps: steps, settings: settings)
    }

    /// The newest attempt of an app (and stage: nil is the runs without one), if any.
    public static func latest(app: String, stage: String?, ledger: Ledger) async throws -> LedgerAttempt? {
        try await ledger.attempts(LedgerQuery(app: app, stage: .some(stage), limit: 1)).last
    }

    /// Writes the page of a finished attempt to `<directory>/<attemptID>.html` (the directory is
    /// made when missing) and returns that path.
    @discardableResult
    public static func write(attemptID: String, ledger: Ledger, to directory: String) async throws -> String {
        // An id read back from a shared ledger names a file here: nothing in it may leave `directory`.
        guard attemptID.first.map({ $0.isLetter || $0.isNumber }) == true,
            attemptID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else { throw ShipitError("attempt id \(attemptID.debugDescription) cannot name a file") }
        let page = try await html(attemptID: attemptID, ledger: ledger)
        let path = FilePath.join(directory, "\(attemptID).html")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(page.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ShipitError("cannot write the run's report \(path): \(error)")
        }
        return path
    }
}
