import FoundationEssentials

/// Where shipit runs as a pipeline step, and what that platform reads: GitHub Actions (workflow
/// commands, the step summary, step outputs) or GitLab CI (collapsible sections, a dotenv report).
public enum CIPlatform: String, Sendable, CaseIterable {
    case github, gitlab, none

    /// `--ci auto` (the default): the platform's own variable says.
    public static func detect(_ flag: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> CIPlatform
    {
        switch flag {
        case "auto":
            if environment["GITHUB_ACTIONS"] == "true" { return .github }
            if environment["GITLAB_CI"] == "true" { return .gitlab }
            return .none
        default:
            guard let p = CIPlatform(rawValue: flag) else {
                throw ShipitError.input("--ci: expected auto, github, gitlab or none")
            }
            return p
        }
    }

    /// `::error title=…::message`, escaped as GitHub's workflow commands require.
    public static func githubCommand(_ name: String, title: String? = nil, _ message: String) -> String {
        func data(_ s: String) -> String {
            s.replacing("%", with: "%25").replacing("\r", with: "%0D").replacing("\n", with: "%0A")
        }
        func property(_ s: String) -> String { data(s).replacing(":", with: "%3A").replacing(",", with: "%2C") }
        return "::\(name)\(title.map { " title=\(property($0))" } ?? "")::\(data(message))"
    }

    /// GitLab's collapsible section markers (ANSI erase + a unique name).
    public static func gitlabSection(start: Bool, name: String, header: String = "", time: Date = Date()) -> String {
        let ts = Int(time.timeIntervalSince1970)
        let id = name.map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return start
            ? "\u{1B}[0Ksection_start:\(ts):\(String(id))[collapsed=true]\r\u{1B}[0K\(header)"
            : "\u{1B}[0Ksection_end:\(ts):\(String(id))\r\u{1B}[0K"
    }
}
