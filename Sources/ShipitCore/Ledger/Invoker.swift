import FoundationEssentials
import Glibc
import ShipitSupport

/// Who runs shipit and from where: user, machine, pid and the CI variables that identify a pipeline
/// run. Stored with every attempt so `changes` can answer "who did that?".
public struct Invoker: Sendable, Equatable {
    public var user: String
    public var machine: String
    public var pid: Int32
    public var ci: [String: String]

    /// CI variables worth keeping (never secrets): GitHub Actions, GitLab, Buildkite, Jenkins, CircleCI, generic.
    public static let ciVariables = [
        "CI", "GITHUB_ACTIONS", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_REF",
        "GITHUB_WORKFLOW", "GITHUB_ACTOR", "GITHUB_SERVER_URL",
        "GITLAB_CI", "CI_JOB_ID", "CI_JOB_URL", "CI_PIPELINE_ID", "CI_PIPELINE_URL", "CI_COMMIT_SHA", "CI_PROJECT_PATH",
        "GITLAB_USER_LOGIN",
        "BUILDKITE", "BUILDKITE_BUILD_URL", "BUILDKITE_BUILD_NUMBER",
        "JENKINS_URL", "BUILD_URL", "BUILD_NUMBER", "CIRCLECI", "CIRCLE_BUILD_URL",
    ]

    public init(user: String, machine: String, pid: Int32, ci: [String: String]) {
        self.user = user
        self.machine = machine
        self.pid = pid
        self.ci = ci
    }

    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> Invoker {
        var ci: [String: String] = [:]
        for k in ciVariables { if let v = environment[k], !v.isEmpty { ci[k] = String(v.prefix(500)) } }
        // GitHub gives no run URL variable; build it like the Actions UI does.
        if let server = ci["GITHUB_SERVER_URL"], let repo = ci["GITHUB_REPOSITORY"], let run = ci["GITHUB_RUN_ID"] {
            ci["GITHUB_RUN_URL"] = "\(server)/\(repo)/actions/runs/\(run)"
        }
        return Invoker(
            user: LocalAccount.user(environment), machine: ProcessInfo.processInfo.hostName, pid: getpid(), ci: ci)
    }

    /// Whether a pid on this machine is still running (signal 0 probes without sending anything).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
