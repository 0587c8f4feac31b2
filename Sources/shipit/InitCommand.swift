import ArgumentParser
import FoundationEssentials
import Glibc
import ShipitCore
import ShipitSupport

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Start a project: a commented shipit.yml, a start script and example hooks in the current directory.",
        discussion: """
            Writes shipit.yml (or --config FILE) for the chosen strategy, hooks/*.example and, for the
            symlink strategy, bin/start (one line to fill in: the app's command), bin/stop and a
            .shipitignore, adds .shipit/ (the local ledger) to .gitignore, then prints
            the next steps. Never overwrites an existing file unless --force. The written config is loaded
            back and validated before this command returns.
            """
    )

    @Option(name: .long, help: "symlink (releases/<id> and an atomic `current` link) or image (podman/docker).")
    var strategy: String = "symlink"

    @Option(name: .long, help: "Comma-separated hosts (names or addresses).")
    var hosts: String = "app-1.example.com"

    @Option(
        name: .customLong("deploy-to"),
        help: ArgumentHelp("Directory on the hosts that holds the releases.", valueName: "path"))
    var deployTo: String?

    @Option(name: .long, help: "The app's name (default: this directory's name).")
    var app: String?

    @Option(name: .long, help: "The SSH user shipit logs in as.")
    var user: String = "deploy"

    @Option(name: .long, help: "The app's public port (health.port), where the smoke test checks it.")
    var port: Int = 8080

    @Option(name: .long, help: "Image strategy: the image name, registry/repository without a tag.")
    var image: String?

    @Option(name: .long, help: ArgumentHelp("Config file to write.", valueName: "file"))
    var config: String = "shipit.yml"

    @Flag(name: .long, help: "Overwrite files that already exist.")
    var force = false

    func run() throws {
        guard let kind = DeployConfig.Strategy(rawValue: strategy) else {
            throw ShipitError.input("--strategy: expected 'symlink' or 'image'")
        }
        let cwd = FileManager.default.currentDirectoryPath
        let configPath = config.hasPrefix("/") ? config : cwd + "/" + config
        let dir = FilePath.directory(of: configPath)
        let appName = app ?? ProjectTemplate.appName(fromDirectory: dir)
        var template = ProjectTemplate(
            app: appName, hosts: try HostName.parseList(hosts, field: "--hosts"),
            deployTo: deployTo ?? "/srv/\(appName)")
        template.strategy = kind
        template.user = user
        template.port = port
        template.image = image
        try template.validate()

        let files =
            [(configPath, template.config, false)]
            + template.files.map { (dir + "/" + $0.path, $0.text, $0.executable) }
        let existing = files.map(\.0).filter { FileManager.default.fileExists(atPath: $0) }
        guard force || existing.isEmpty else {
            throw ShipitError.input(
                "\(existing.joined(separator: ", ")) already exist(s); nothing was written (--force overwrites)")
        }
        do {
            for (path, text, executable) in files {
                try FileManager.default.createDirectory(
                    atPath: FilePath.directory(of: path), withIntermediateDirectories: true)
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
            }
        } catch {
            throw ShipitError("init: cannot write into \(dir): \(error)")
        }
        // What was written must load as written.
        _ = try DeployConfig.load(file: configPath)
        let console = Console.shared
        for (path, _, _) in files {
            console.out("wrote \(path.hasPrefix(cwd + "/") ? String(path.dropFirst(cwd.count + 1)) : path)")
        }
        // The ledger goes to .shipit/ next to the config: kept out of the project's repository.
        let ignore = dir + "/.gitignore"
        let ignoreExists = FileManager.default.fileExists(atPath: ignore)
        let ignoreText: String? = ignoreExists ? try? String(contentsOfFile: ignore, encoding: .utf8) : nil
        if ignoreExists && ignoreText == nil {
            console.err(
                "shipit: warning: cannot read \(ignore): add \(ProjectTemplate.ignoredDirectory) to it yourself")
        } else if let text = ProjectTemplate.gitignore(adding: ignoreText) {
            do { try text.write(toFile: ignore, atomically: true, encoding: .utf8) } catch {
                throw ShipitError("init: cannot write \(ignore): \(error)")
            }
            console.out(
                "\(ignoreText == nil ? "wrote" : "updated") .gitignore (\(ProjectTemplate.ignoredDirectory): the local ledger)"
            )
        }
        console.out("")
        console.out(template.nextSteps)
    }
}
