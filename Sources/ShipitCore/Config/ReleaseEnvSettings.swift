import FoundationEssentials

/// `env:` (plain values, fine to show) and `secrets:` (name → where the value comes from) in
/// shipit.yml: the environment every release runs with (docs/secrets.md). Secret values are
/// resolved on the deployer at the start of a run (`SecretResolver`), never read from here.
public struct ReleaseEnvSettings: Sendable, Equatable {
    /// Where a secret's value comes from, on the deployer.
    public enum Source: Sendable, Equatable {
        /// A command's standard output, one trailing newline dropped (`pass show app/db`).
        case command(String)
        /// A variable of the deployer's environment (a CI secret).
        case environment(String)
        /// A file on the deployer, one trailing newline dropped.
        case file(String)

        /// The kind, as errors name it (never the value).
        public var kind: String {
            switch self {
            case .command: return "command"
            case .environment: return "env"
            case .file: return "file"
            }
        }
    }

    public struct Secret: Sendable, Equatable {
        public var name: String
        public var source: Source
        /// Seconds a command may take.
        public var timeout: Double

        public init(name: String, source: Source, timeout: Double) {
            self.name = name
            self.source = source
            self.timeout = timeout
        }
    }

    public struct Value: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Sorted by name.
    public var env: [Value] = []
    /// Sorted by name.
    public var secrets: [Secret] = []

    public var isEmpty: Bool { env.isEmpty && secrets.isEmpty }

    public init() {}
}

extension ReleaseEnvSettings {
    static let sourceKeys: Set<String> = ["command", "env", "file", "timeout"]
    public static let defaultTimeout = 30.0

    /// Names shipit sets itself for the app: a config value must not shadow them.
    static func reserved(_ name: String) -> Bool {
        name == "PORT" || name.hasPrefix("SHIPIT_")
    }

    static func parse(env: YAMLReader?, secrets: YAMLReader?, baseDir: String) throws -> ReleaseEnvSettings {
        var s = ReleaseEnvSettings()
        func checkName(_ name: String, _ r: YAMLReader) throws {
            guard RemoteCommand.isValidEnvName(name) else {
                throw r.fail(
                    "'\(name)' is not an environment variable name (letters, digits and _, not starting with a digit)")
            }
            guard !reserved(name) else { throw r.fail("\(name) is set by shipit itself (PORT and SHIPIT_*)") }
        }
        if let env {
            for (name, r) in try env.mapping(allowed: nil).sorted(by: { $0.key < $1.key }) {
                try checkName(name, r)
                let v = try r.string()
                guard !v.contains("\0") else { throw r.fail("a value cannot hold a NUL byte") }
                s.env.append(Value(name: name, value: v))
            }
        }
        if let secrets {
            for (name, r) in try secrets.mapping(allowed: nil).sorted(by: { $0.key < $1.key }) {
                try checkName(name, r)
                if s.env.contains(where: { $0.name == name }) {
                    throw r.fail("\(name) is in both env and secrets")
                }
                let m = try r.mapping(allowed: sourceKeys)
                let given = ["command", "env", "file"].filter { m[$0] != nil }
                guard given.count == 1, let kind = given.first, let v = m[kind] else {
                    throw r.fail("needs exactly one source: command, env or file")
                }
                let text = try v.string()
                guard !text.isEmpty else { throw v.fail("is empty") }
                let source: Source
                switch kind {
                case "command": source = .command(text)
                case "env":
                    guard RemoteCommand.isValidEnvName(text) else {
                        throw v.fail("'\(text)' is not an environment variable name")
                    }
                    source = .environment(text)
                default: source = .file(DeployConfig.expand(text, relativeTo: baseDir))
                }
                let timeout = try m["timeout"]?.double(0.1...3600) ?? defaultTimeout
                if m["timeout"] != nil, kind != "command" {
                    throw r.fail("'timeout' is for a command source")
                }
                s.secrets.append(Secret(name: name, source: source, timeout: timeout))
            }
        }
        return s
    }
}
