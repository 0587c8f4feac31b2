/// `shipit deploy --dry-run`: every command each host would run, rendered and redacted, for any
/// strategy. Nothing is executed.
public enum DryRunPlan {
    public static func render(_ config: DeployConfig, input: ReleaseInput, lockWaitSeconds: Int) -> String {
        let strategy = Strategies.make(config)
        let redactor = Redactor(config: config)
        let release: ResolvedRelease
        let what: String
        switch input {
        case .artifact(let a):
            release = ResolvedRelease(id: a.releaseID, input: input)
            what = "release \(a.releaseID)"
        case .imageTag, .imageDigest:
            let name = config.image?.name ?? ""
            release = ResolvedRelease(
                id: "<tag>-<digest12>", input: input, imageReference: "\(name)@<digest>", imageDigest: "<digest>")
            what = "image \(input.imagePullReference(name) ?? name)"
        }
        var lines = ["# dry run: \(config.app) \(what) to \(config.hosts.joined(separator: ", ")); nothing is executed"]
        // The deployer's side, in the order it runs around the hosts' commands below.
        let hooks = Hooks(directory: config.hooksDir)
        func hook(_ name: String) -> String { hooks.exists(name) ? "hook \(name) (\(config.hooksDir)/\(name))" : "" }
        let migrationHost = config.migrations.map { $0.migrationHost(in: config) }
        let env = config.releaseEnv
        let order = [
            hook("pre-flight"), env.secrets.isEmpty ? "" : "secrets resolved on this machine",
            "preflight on every host", env.isEmpty ? "" : "the release's environment file on every host",
            "\(strategy.stageStep == "upload" ? "extract" : strategy.stageStep) on every host",
            migrationHost.map { "migrations on \($0) (status, lint, then each pending file)" } ?? "",
            hook("pre-switch"),
            strategy.traffic == nil ? "switch + start" : "warm up on the idle slot, smoke test there, switch the proxy",
            hook("post-switch"),
            config.health == nil ? "" : "smoke test", "finish", hook("post-deploy"),
        ].filter { !$0.isEmpty }
        lines.append("# order: " + order.joined(separator: " → "))
        lines.append(
            "# on failure after a switch: rollback of every switched host"
                + (hooks.exists("on-rollback") ? ", then hook on-rollback" : ""))
        if !env.isEmpty {
            // Names and sources only: a dry run resolves nothing.
            lines.append(
                "# environment of the release (.shipit/env/<release>, 0600; values on stdin, never in a command): "
                    + (env.env.map { "\($0.name) (env)" } + env.secrets.map { "\($0.name) (secret: \($0.source.kind))" })
                    .joined(separator: ", "))
        }
        func add(_ title: String, _ command: RemoteCommand) {
            lines.append("# \(title)\n" + redactor.redact(command.rendered))
        }
        let lock = LockRequest(info: "holder=<run id>", waitSeconds: lockWaitSeconds)
        for host in config.hosts {
            lines.append("\n## \(host)")
            add("preflight", strategy.preflight(lock, deploying: input, inventory: false, host: host))
            let plan: StagePlan
            do { plan = try strategy.stage(release, host: host) } catch {
                lines.append("# \(strategy.stageStep): \(error.message)")
                continue
            }
            let stageTitle = strategy.stageStep == "upload" ? "extract" : strategy.stageStep
            if config.connection.upload.streams(bytes: plan.uploads.reduce(0) { $0 + StagePhase.size($1.localPath) }),
                let last = plan.uploads.last
            {
                for u in plan.uploads.dropLast() {
                    add(
                        "stream \(u.localPath) on stdin to \(u.remotePath)",
                        plan.command.receivingOnly(stdinAt: u.remotePath))
                }
                add(
                    "\(stageTitle), \(last.localPath) streamed on its stdin (one channel, no SFTP)",
                    plan.command.receiving(stdinAt: last.remotePath))
            } else {
                for u in plan.uploads {
                    lines.append(
                        "# upload \(u.localPath) -> \(u.remotePath) (\(config.connection.upload == .scp ? "scp" : "sftp"))"
                    )
                }
                add(stageTitle, plan.command)
            }
            if host == migrationHost, let m = config.migrations {
                add(
                    "migrations: applied versions (then the pending files of the release are linted and applied one by one, each in a transaction; the list is known at run time)",
                    MigrationCommands(layout: config.layout, settings: m).status())
            }
            if let slots = strategy.slots {
                let traffic = slots.traffic
                // The slot is known at run time (the one not serving); the plan shows the first.
                let slot = traffic.settings.slots[0]
                add(
                    "warm up on the idle slot (\(traffic.settings.slots.map(String.init).joined(separator: " or ")))",
                    slots.warm(releaseID: release.id, host: host, slot: slot, reuse: true))
                if let h = config.health {
                    lines.append(
                        "# smoke test on the slot: GET http://\(HostAddress.bracketed(h.slotAddress(of: host))):<slot>\(h.live) then \(h.ready), before any request reaches it"
                    )
                }
                add(
                    "switch the proxy to the slot",
                    slots.switchTraffic(releaseID: release.id, host: host, slot: slot, historyLine: "<history json>")
                )
            } else {
                add(
                    "switch + start",
                    strategy.switchTo(releaseID: release.id, host: host, historyLine: "<history json>"))
            }
            if let h = config.health {
                lines.append(
                    "# smoke test: GET \(h.publicURL(of: host, path: h.live)) then \(h.ready) \(h.checkFrom == .deployer ? "from the deployer" : "from the host, through its SSH session"), until \(h.deadline)s"
                )
            }
            add("finish", strategy.finish(previous: "<previous>", holder: "<run id>", historyLine: nil))
        }
        return lines.joined(separator: "\n")
    }
}
