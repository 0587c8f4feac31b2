import FoundationEssentials
import ShipitSupport

/// `shipit init`: a commented shipit.yml for the chosen strategy and the example hooks, as text.
/// Pure, so a test can check that what it writes passes validation as written.
public struct ProjectTemplate: Sendable {
    public var strategy: DeployConfig.Strategy = .symlink
    public var app: String
    public var hosts: [String]
    public var deployTo: String
    public var user: String = "deploy"
    /// The public port (`health.port`).
    public var port: Int = 8080
    /// Image strategy: the image name (registry/repository, without a tag).
    public var image: String?

    public init(app: String, hosts: [String], deployTo: String) {
        self.app = app
        self.hosts = hosts
        self.deployTo = deployTo
    }

    /// A valid app name from a directory name ("My App" → "my-app"), or "app".
    public static func appName(fromDirectory dir: String) -> String {
        let base = FilePath.lastComponent(of: dir).lowercased()
        var name = String(base.map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII ? $0 : "-" })
        while name.contains("--") { name = name.replacing("--", with: "-") }
        while name.hasPrefix("-") { name.removeFirst() }
        while name.hasSuffix("-") { name.removeLast() }
        guard let first = name.first, first.isLetter, (try? Names.identifier(name, field: "app")) != nil else {
            return "app"
        }
        return name
    }

    /// The line `shipit init` adds to the project's `.gitignore`: `.shipit/` holds the SQLite
    /// ledger (every run's record), which must not be committed and pushed.
    public static let ignoredDirectory = ".shipit/"

    /// `.gitignore`'s new text with `.shipit/` added, or nil when it already ignores it (as
    /// `.shipit`, `.shipit/`, `/.shipit` or `/.shipit/`). `existing` nil: there is no file yet.
    public static func gitignore(adding existing: String?) -> String? {
        let text = existing ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).trimmed() }
        if lines.contains(where: { [".shipit", ".shipit/", "/.shipit", "/.shipit/"].contains($0) }) { return nil }
        let separator = text.isEmpty || text.hasSuffix("\n") ? "" : "\n"
        return text + separator + "# shipit's local ledger (every deploy's record): never committed\n"
            + ignoredDirectory + "\n"
    }

    /// Refuses what would not load, naming the flag, before anything is written.
    public func validate() throws {
        if image != nil, strategy != .image { throw ShipitError.input("--image: only for --strategy image") }
        try Names.identifier(app, field: "--app")
        guard !hosts.isEmpty else { throw ShipitError.input("--hosts: at least one host is needed") }
        for h in hosts { try HostName.validate(h, field: "--hosts") }
        try Names.absolutePath(deployTo, field: "--deploy-to")
        guard (1...65535).contains(port) else { throw ShipitError.input("--port: expected a TCP port, 1 to 65535") }
        do { try ConnectionSettings(user: user).validate() } catch let e as ShipitError {
            throw ShipitError.input(e.message.replacing("ssh.user", with: "--user"))
        }
        if let image {
            guard image.wholeMatch(of: #/[a-z0-9][a-z0-9._\/:-]*/#) != nil, !image.contains("..") else {
                throw ShipitError.input(
                    "--image: '\(image)' is not an image name (registry/repository, lowercase, no tag)")
            }
        }
    }

    public var config: String {
        let hostLines = hosts.map { "  - \($0)" }.joined(separator: "\n")
        let head = """
            # shipit.yml, written by `shipit init`. Every key is described in shipit's docs/configuration.md.
            # Check it with `shipit deploy --dry-run` (prints every command, runs nothing) and the hosts with
            # `shipit check`.

            # The app's name: in lock files, the ledger, notices and container names.
            app: \(app)

            # Where to deploy: names or addresses. Give roles with the long form, e.g.
            #   - {host: db-1, roles: [db]}      (migrations run on the first host with their role)
            #   - {host: jobs-1, roles: [worker]}  (runs the `worker` process below instead of the app)
            hosts:
            \(hostLines)

            ssh:
              # The user shipit logs in as (a deploy user that owns deploy_to, not root).
              user: \(user)
              # Keys to try, in order; a running ssh-agent is used too.
              # identity: [~/.ssh/id_ed25519]
              # Host keys are verified against this file: an unknown or changed key is refused.
              # Add a host's key once (compare the fingerprint out of band):  ssh-keyscan HOST >> ~/.ssh/known_hosts
              known_hosts: ~/.ssh/known_hosts
              connect_timeout: 10
              # Hosts may be aliases of ~/.ssh/config (HostName, User, Port, IdentityFile, ProxyJump… are
              # read from it; what is set here wins). A bastion in front of every host:
              # proxy_jump: deploy@bastion.example.com

            # Hosts worked on at once.
            parallel: 10

            """
        let body = strategy == .image ? imageBody : symlinkBody
        let tail = """

            # Hooks run on this machine at pre-flight, pre-switch, post-switch, post-deploy and on-rollback
            # (executables named so in this directory; see hooks/*.example).
            hooks: hooks

            # The release ledger (what changed, when, by whom): SQLite here by default, or a shared PostgreSQL
            # so every deployer sees the same history.
            # ledger:
            #   url: postgres://shipit@db.internal:5432/shipit
            #   password_env: SHIPIT_LEDGER_PASSWORD

            # Processes beside the app on the hosts with their role (a background worker): restarted with
            # each release, stopped with stop_signal (then KILL after stop_timeout), smoke-tested by their
            # status command, rolled back with the app (docs/roles.md). `--roles worker` acts on them alone.
            # roles:
            #   worker:
            #     cmd: bin/worker                 # in the foreground; shipit runs it in the background
            #     status: bin/worker status       # exit 0 = healthy
            #     stop_signal: TERM
            #     stop_timeout: 30

            # Where the app's logs are on each host, for `shipit logs` and `shipit triage` (default: symlink
            # shared/log/*.log, image: the container's logs).
            # logs:
            #   path: shared/log/production.log

            # Database migrations shipped inside each release (expand/contract checked before any switch).
            # migrations:
            #   dir: db/migrations
            #   env_file: /etc/\(app)/database.env     # on the host; defines DATABASE_URL

            """
        return head + body + tail
    }

    private var symlinkBody: String {
        """
        # symlink: each release is unpacked into <deploy_to>/releases/<id>, then <deploy_to>/current is
        # switched to it atomically. Deploy with `shipit deploy --from DIR` or `--ref GITREF`.
        strategy: symlink
        deploy_to: \(deployTo)
        keep_releases: 5
        # Paths kept across releases in <deploy_to>/shared (linked into each release).
        # shared: [log, storage]

        # Run in the release directory after the switch; must return (daemonize the app). It gets PORT,
        # SHIPIT_BIND (the address to listen on), SHIPIT_RELEASE, SHIPIT_DEPLOY_TO and, with the traffic
        # switch, SHIPIT_PIDFILE. bin/start (written by `shipit init`) needs one line: APP_CMD.
        start: sh bin/start
        # Stops the app when a first deploy fails after its switch (there is no release to go back to).
        stop: sh bin/stop

        \(healthSection)
        # Zero-downtime: a managed nginx on each host in front of two slots (health.port + 1 and + 2); a
        # release is started and smoke-tested on the idle slot before it gets any request, and the
        # previous one stays warm so a rollback is a traffic switch. Needs nginx on the hosts.
        # traffic:
        #   proxy: nginx
        #   drain: 5

        """
    }

    private var imageBody: String {
        """
        # image: every host pulls the image tag, shipit records its digest and runs one container; a
        # rollback returns to the previous digest. Deploy with `shipit deploy --tag TAG`.
        strategy: image
        deploy_to: \(deployTo)
        image:
          name: \(image ?? "registry.example.com/\(app)")
          # podman or docker (a command starting with one of them).
          engine: podman
          # The port the app listens on inside the container, and the one published on the host.
          container_port: 8080
          port: \(port)
          keep_images: 3
          # Environment for the container from a file on this machine (uploaded, never printed).
          # env_file: .env.production

        \(healthSection)
        # Zero-downtime: a managed nginx on each host in front of two container slots; see docs/traffic.md.
        # traffic:
        #   proxy: nginx

        """
    }

    /// The same smoke test for either strategy.
    var healthSection: String {
        """
        # The smoke test after every switch, from this machine to each host's public port: both must
        # answer 2xx before the deadline, or every switched host is rolled back. The app (or the proxy)
        # listens on every address of the host; `address:` narrows it to one IP address.
        health:
          port: \(port)
          live: /health/live
          ready: /health/ready
          deadline: 30

        """
    }

    /// Every file `init` writes beside the config, by path relative to the project directory.
    public var files: [(path: String, text: String, executable: Bool)] {
        let hookFiles = Self.hooks.map { (path: "hooks/" + $0.name, text: $0.text, executable: true) }
        guard strategy == .symlink else { return hookFiles }
        return [
            (path: "bin/start", text: Self.startScript, executable: true),
            (path: "bin/stop", text: Self.stopScript, executable: true),
            (path: Artifact.ignoreFile, text: Self.shipitignore, executable: false),
        ] + hookFiles
    }

    /// Starts the app in the background and returns: what `start` must do. One line to fill in.
    static let startScript = """
        #!/bin/sh
        # Starts the app in the background and returns; shipit then smoke-tests health.live and
        # health.ready on the public port. Run in the release directory by `shipit deploy` and
        # `shipit rollback`, with PORT and SHIPIT_BIND (listen on $SHIPIT_BIND:$PORT), SHIPIT_RELEASE,
        # SHIPIT_DEPLOY_TO, SHIPIT_APP, SHIPIT_HOST and, behind the traffic switch, SHIPIT_SLOT and
        # SHIPIT_PIDFILE. Its output goes to <deploy_to>/.shipit/start.log on the host.
        set -eu

        # The one line to fill in: the command that runs your app in the FOREGROUND, listening on
        # $SHIPIT_BIND:$PORT. For example: node server.js / bundle exec puma -b tcp://$SHIPIT_BIND:$PORT /
        # gunicorn -b $SHIPIT_BIND:$PORT app:app / ./bin/server
        APP_CMD=''

        [ -n "$APP_CMD" ] || { echo "bin/start: set APP_CMD to the command that runs your app" >&2; exit 1; }
        PIDFILE=${SHIPIT_PIDFILE:-$SHIPIT_DEPLOY_TO/shared/app.pid}
        LOG=$SHIPIT_DEPLOY_TO/shared/log/app.log
        mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOG")"

        # Without the traffic switch the new release takes over the same port: stop the running one
        # first (TERM, then KILL after 10 s). Behind the switch, shipit stops the old slot itself once
        # the proxy has moved away from it and its requests are drained.
        if [ -z "${SHIPIT_PIDFILE:-}" ] && [ -s "$PIDFILE" ]; then
          old=$(cat "$PIDFILE")
          if kill -0 "$old" 2>/dev/null; then
            kill -TERM "$old" 2>/dev/null || true
            i=0
            while kill -0 "$old" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            kill -KILL "$old" 2>/dev/null || true
          fi
        fi

        # A session of its own (setsid), so the app outlives the SSH channel; its output to the log.
        export PORT SHIPIT_BIND
        setsid sh -c "exec $APP_CMD" </dev/null >>"$LOG" 2>&1 &
        pid=$!
        echo "$pid" > "$PIDFILE"
        sleep 0.3
        if ! kill -0 "$pid" 2>/dev/null; then
          echo "bin/start: the app exited at once; the end of $LOG:" >&2
          tail -n 20 "$LOG" >&2
          exit 1
        fi
        echo "started pid $pid on ${SHIPIT_BIND:-?}:${PORT:-?}"

        """

    /// Stops what bin/start started (TERM, then KILL after 10 s).
    static let stopScript = """
        #!/bin/sh
        # Stops the app bin/start started: shipit runs it when a first deploy fails after its switch.
        PIDFILE=${SHIPIT_PIDFILE:-$SHIPIT_DEPLOY_TO/shared/app.pid}
        [ -s "$PIDFILE" ] || exit 0
        pid=$(cat "$PIDFILE")
        kill -TERM "$pid" 2>/dev/null || { rm -f "$PIDFILE"; exit 0; }
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$PIDFILE"

        """

    /// What `--from .` leaves out of a release.
    static let shipitignore = """
        # What `shipit deploy --from DIR` leaves out of the release, in .gitignore syntax (read from DIR).
        # .git/ and .shipit/ (the ledger) are always left out. Unlike .gitignore, build output you
        # made before the deploy (compiled assets, node_modules from `npm ci --omit=dev`) should ship.
        /shipit.yml
        /shipit.*.yml
        /hooks/
        .env
        .env.*
        *.log
        /tmp/
        /coverage/

        """

    /// Example hooks, named `*.example` so none runs until renamed (and made executable).
    public static let hooks: [(name: String, text: String)] = [
        (
            "pre-flight.example",
            """
            #!/bin/sh
            # Rename to `pre-flight` (and chmod +x) to enable: runs on this machine before any host is
            # touched; a non-zero exit stops the deploy with nothing changed. E.g. a deploy freeze:
            [ -z "${SHIPIT_FREEZE:-}" ] || { echo "deploy freeze in effect: $SHIPIT_FREEZE" >&2; exit 1; }

            """
        ),
        (
            "pre-switch.example",
            """
            #!/bin/sh
            # Rename to `pre-switch` (and chmod +x) to enable: runs on this machine once every host has
            # the release staged (uploaded, unpacked) and migrations ran, before any host is switched;
            # a non-zero exit stops the deploy with every host still on its old release. Gets SHIPIT_APP,
            # SHIPIT_STAGE, SHIPIT_RELEASE, SHIPIT_PREVIOUS_RELEASE, SHIPIT_HOSTS, SHIPIT_DEPLOY_TO.
            # E.g. a last check that the release's config is complete:
            echo "about to switch $SHIPIT_HOSTS from ${SHIPIT_PREVIOUS_RELEASE:-nothing} to $SHIPIT_RELEASE"

            """
        ),
        (
            "post-switch.example",
            """
            #!/bin/sh
            # Rename to `post-switch` (and chmod +x) to enable: runs on this machine right after every host
            # switched, before the smoke test decides whether they stay (so it can warm caches, say). Its
            # output is shown; a failure is reported and does not undo the switch. Same variables as
            # pre-switch.
            echo "$SHIPIT_RELEASE switched on $SHIPIT_HOSTS; smoke test next"

            """
        ),
        (
            "post-deploy.example",
            """
            #!/bin/sh
            # Rename to `post-deploy` (and chmod +x) to enable: runs after a successful deploy with
            # SHIPIT_APP, SHIPIT_STAGE, SHIPIT_RELEASE, SHIPIT_PREVIOUS_RELEASE, SHIPIT_HOSTS, SHIPIT_DEPLOY_TO
            # and SHIPIT_OUTCOME set. A failing post-* hook is reported, never undoes the deploy.
            echo "$SHIPIT_APP $SHIPIT_RELEASE is live on $SHIPIT_HOSTS (was: ${SHIPIT_PREVIOUS_RELEASE:-nothing})"

            """
        ),
        (
            "on-rollback.example",
            """
            #!/bin/sh
            # Rename to `on-rollback` (and chmod +x) to enable: runs after any rollback, automatic or
            # `shipit rollback`, e.g. to page the on-call or post to chat.
            echo "$SHIPIT_APP: $SHIPIT_RELEASE rolled back on $SHIPIT_HOSTS ($SHIPIT_OUTCOME)" >&2

            """
        ),
    ]

    public var nextSteps: String {
        let deployLine =
            strategy == .image
            ? "shipit deploy --tag v1"
            : "shipit deploy --from .   (.shipitignore says what stays behind; or --ref main)"
        return """
            Next steps:
              1. Edit \(strategy == .image ? "shipit.yml: the image name and ports" : "bin/start: APP_CMD, the command that runs your app; shipit.yml: health.port and the paths") for your app.
              2. Trust the hosts' keys once (compare fingerprints out of band):
                   ssh-keyscan \(hosts.joined(separator: " ")) >> ~/.ssh/known_hosts
              3. Check every host before the first deploy (changes nothing; --fix creates \(deployTo)):
                   shipit check
              4. See every command a deploy would run, then deploy:
                   shipit deploy --dry-run
                   \(deployLine)
            """
    }
}
