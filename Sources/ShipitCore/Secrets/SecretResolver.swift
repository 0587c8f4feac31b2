import FoundationEssentials
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Resolves a config's `env:` and `secrets:` on the deployer, once per run, before any host is
/// touched: every secret in parallel, each command within its timeout. A source that fails or
/// gives nothing stops the run (exit 2), naming the secret and its kind of source, never a value.
/// Resolved values are registered with `SecretValues`, so no output or record of the run shows them.
public enum SecretResolver {
    public static func resolve(
        _ settings: ReleaseEnvSettings, directory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ShipitError) -> ReleaseEnvironment? {
        guard !settings.isEmpty else { return nil }
        var entries = settings.env.map { ReleaseEnvironment.Entry(name: $0.name, value: $0.value, secret: false) }
        let results: [(String, Result<String, ShipitError>)] = await withTaskGroup(
            of: (String, Result<String, ShipitError>).self
        ) { group in
            for s in settings.secrets {
                group.addTask {
                    do throws(ShipitError) {
                        let v = try await value(of: s, directory: directory, environment: environment)
                        // Masked from now on: another secret's failing command may print it.
                        SecretValues.register([v])
                        return (s.name, .success(v))
                    } catch { return (s.name, .failure(error)) }
                }
            }
            var out: [(String, Result<String, ShipitError>)] = []
            for await r in group { out.append(r) }
            return out
        }
        // Every value that resolved is registered (above), so the error below is masked against all of
        // them. The first failure by name, so the same config fails the same way every time.
        for (_, r) in results.sorted(by: { $0.0 < $1.0 }) {
            if case .failure(let e) = r { throw ShipitError(Redactor.standard.redact(e.message), exitCode: e.exitCode) }
        }
        for (name, r) in results {
            if case .success(let v) = r { entries.append(.init(name: name, value: v, secret: true)) }
        }
        return ReleaseEnvironment(entries)
    }

    /// A value larger than this is a mistake (a whole file printed), not a secret.
    static let maximumBytes = 1 << 20

    static func value(
        of secret: ReleaseEnvSettings.Secret, directory: String, environment: [String: String]
    ) async throws(ShipitError) -> String {
        let what = "secrets.\(secret.name) (\(secret.source.kind))"
        var value: String
        switch secret.source {
        case .environment(let name):
            guard let v = environment[name] else {
                throw ShipitError.input("\(what): \(name) is not set in the deployer's environment")
            }
            value = v
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ShipitError.input("\(what): cannot read \(path)")
            }
            guard data.count <= maximumBytes else {
                throw ShipitError.input("\(what): \(path) is larger than \(maximumBytes / 1024) KiB")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ShipitError.input("\(what): \(path) is not UTF-8 text")
            }
            value = text
        case .command(let command):
            value = try await run(command, timeout: secret.timeout, directory: directory, what: what)
        }
        if value.hasSuffix("\r\n") { value.removeLast(2) } else if value.hasSuffix("\n") { value.removeLast() }
        guard !value.isEmpty else { throw ShipitError.input("\(what): the value is empty") }
        guard !value.contains("\0") else { throw ShipitError.input("\(what): the value holds a NUL byte") }
        return value
    }

    /// `command` through /bin/sh in the config's directory, under coreutils' `timeout`. Only its
    /// standard output is the value; its standard error goes to a private file, shown (redacted,
    /// shortened) when it fails.
    static func run(_ command: String, timeout: Double, directory: String, what: String) async throws(ShipitError)
        -> String
    {
        var template = Array((FilePath.temporaryDirectory + "/shipit-secret-XXXXXX").utf8CString)
        guard
            let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) })
        else { throw ShipitError("\(what): cannot make a temporary directory") }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let errFile = dir + "/stderr"
        let script = "exec 2>\"$0\"; cd \"$1\" || exit 125\n" + command
        let argv = ["timeout", "-k", "2", String(timeout), "/bin/sh", "-c", script, errFile, directory]
        let status: Int32
        let out: String
        do { (status, out) = try await LocalProcess.runStatusDetached(argv) } catch {
            throw ShipitError.input("\(what): cannot run it: \(error)")
        }
        guard !out.unicodeScalars.contains("\u{FFFD}") else {
            throw ShipitError.input("\(what): the command printed something that is not UTF-8 text")
        }
        guard out.utf8.count <= maximumBytes else {
            throw ShipitError.input("\(what): the command printed more than \(maximumBytes / 1024) KiB")
        }
        guard status == 0 else {
            // What a failed command printed on its standard output is never shown: it may be part of a value.
            let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
            let why = status == 124 ? "timed out after \(Int(timeout)) s" : "exited \(status)"
            let detail = Redactor.standard.redact(String(err.trimmed().prefix(300)))
            throw ShipitError.input(
                "\(what): the command \(why)\(detail.isEmpty ? "" : ": " + TerminalText.visible(detail))")
        }
        return out
    }
}
