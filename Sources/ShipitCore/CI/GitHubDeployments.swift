import FoundationEssentials

/// GitHub's Deployments API for a run in GitHub Actions: a deployment for the environment when the
/// run starts, an `in_progress` status, then `success` or `failure` with the environment and log
/// URLs. Every call is bounded by `timeout` and never fails the run: what went wrong is returned.
public struct GitHubDeployments: Sendable {
    public var api: URL
    public var repository: String
    public var token: String
    public var environment: String
    public var ref: String
    public var environmentURL: String?
    public var logURL: String?
    public var timeout: Double = 10

    /// From the variables GitHub Actions sets (`GITHUB_API_URL`, `GITHUB_REPOSITORY`, `GITHUB_SHA`,
    /// `GITHUB_SERVER_URL`, `GITHUB_RUN_ID`) and the token in `GITHUB_TOKEN`; nil (with why) when
    /// one is missing.
    public static func fromEnvironment(_ env: [String: String], environment: String, environmentURL: String?) -> (
        GitHubDeployments?, String?
    ) {
        guard let token = env["GITHUB_TOKEN"], !token.isEmpty else { return (nil, "GITHUB_TOKEN is not set") }
        guard let repo = env["GITHUB_REPOSITORY"], repo.split(separator: "/").count == 2 else {
            return (nil, "GITHUB_REPOSITORY is not set")
        }
        guard let api = URL(string: env["GITHUB_API_URL"] ?? "https://api.github.com") else {
            return (nil, "GITHUB_API_URL is not a URL")
        }
        var log: String?
        if let server = env["GITHUB_SERVER_URL"], let run = env["GITHUB_RUN_ID"] {
            log = "\(server)/\(repo)/actions/runs/\(run)"
        }
        return (
            GitHubDeployments(
                api: api, repository: repo, token: token, environment: environment,
                ref: env["GITHUB_SHA"] ?? env["GITHUB_REF"] ?? "HEAD",
                environmentURL: environmentURL, logURL: log), nil
        )
    }

    /// Creates the deployment; returns its id, or why not.
    public func create(description: String) async -> (Int?, String?) {
        let body: [String: JSONValue] = [
            "ref": .string(ref), "environment": .string(environment),
            "description": .string(String(description.prefix(140))),
            "auto_merge": .bool(false), "required_contexts": .array([]),
            "production_environment": .bool(environment == "production"),
        ]
        do {
            let (status, json) = try await post("repos/\(repository)/deployments", body)
            guard status == 201, let n = json["id"]?.number, let id = Int(exactly: n) else {
                return (nil, "create deployment: HTTP \(status) \(json["message"]?.string ?? "")")
            }
            return (id, nil)
        } catch { return (nil, "create deployment: \(DeployerHTTP.describe(error))") }
    }

    /// `in_progress`, `success`, `failure` or `error`; returns why it failed, or nil.
    public func status(_ id: Int, state: String, description: String) async -> String? {
        var body: [String: JSONValue] = [
            "state": .string(state), "description": .string(String(description.prefix(140))),
            "environment": .string(environment),
        ]
        if let environmentURL { body["environment_url"] = .string(environmentURL) }
        if let logURL { body["log_url"] = .string(logURL) }
        do {
            let (status, json) = try await post("repos/\(repository)/deployments/\(id)/statuses", body)
            return status == 201 ? nil : "deployment status \(state): HTTP \(status) \(json["message"]?.string ?? "")"
        } catch { return "deployment status \(state): \(DeployerHTTP.describe(error))" }
    }

    func post(_ path: String, _ body: [String: JSONValue]) async throws -> (Int, JSONValue) {
        let headers = [
            ("Authorization", "Bearer \(token)"), ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", "2022-11-28"), ("Content-Type", "application/json"),
        ]
        let data = JSONValue.object(body).encoded()
        let r = try await DeployerHTTP.request(
            "POST", api.appendingPathComponent(path), headers: headers, body: data, timeout: timeout)
        let json = JSONValue.parse(r.body) ?? .object([:])
        return (r.status, json)
    }
}
