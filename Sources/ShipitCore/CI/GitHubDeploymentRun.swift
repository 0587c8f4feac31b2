import FoundationEssentials

extension GitHubDeployments {
    /// `--github-deployment`: `run` recorded as a deployment to `environment`, created and set
    /// `in_progress` before it, `success` or `failure` after it. A failing API call (or a missing
    /// token) is a warning, never the run's outcome; without `environment` the run is not recorded.
    public static func recording(
        environment: String?, environmentURL: String?,
        variables: [String: String] = ProcessInfo.processInfo.environment,
        warn: (String) -> Void, _ run: () async throws -> DeployReport
    ) async throws -> DeployReport {
        guard let environment else { return try await run() }
        func warning(_ m: String) { warn("GitHub deployment: " + m) }
        let (client, why) = fromEnvironment(variables, environment: environment, environmentURL: environmentURL)
        guard let client else {
            warning("not recorded: \(why ?? "")")
            return try await run()
        }
        let (id, error) = await client.create(description: "shipit")
        if let error { warning(error) }
        if let id, let e = await client.status(id, state: "in_progress", description: "shipit is deploying") {
            warning(e)
        }
        let report = try await run()
        if let id {
            let ok = report.exitCode == .success
            let text = "\(report.operation) of \(report.releaseID): \(report.outcome.rawValue)"
            if let e = await client.status(id, state: ok ? "success" : "failure", description: text) { warning(e) }
        }
        return report
    }
}
