import Foundation

/// An nginx that shipit does not run (for `traffic: {mode: system}` tests): started on every host
/// as the deploy user under `prefix` (in the host's private /srv), listening on the public port and
/// proxying to the `shipit_app` upstream in the file shipit writes.
public struct SystemNginx: Sendable {
    public let prefix: String

    public init() { prefix = "/srv/sysnginx-\(String(UUID().uuidString.prefix(6)).lowercased())" }

    /// nginx's own command line for this instance.
    public var nginx: String { "/usr/sbin/nginx -q -p \(prefix)/ -c \(prefix)/nginx.conf -e \(prefix)/error.log" }

    /// The `traffic:` section; `reload` replaces the plain reload (e.g. a parking wrapper).
    public func yaml(reload: String? = nil) -> String {
        """
        traffic:
          mode: system
          upstream_file: \(prefix)/upstream.conf
          test: \(nginx) -t
          reload: \(reload ?? nginx + " -s reload")
        """
    }

    /// The shell that writes its config (no release yet: the upstream is down) and starts it.
    public func setUp(host: String, port: Int) -> String {
        """
        mkdir -p \(prefix)/tmp && cat > \(prefix)/nginx.conf <<'EOF'
        worker_processes 1;
        pid \(prefix)/nginx.pid;
        events { worker_connections 256; }
        http {
            access_log off;
            client_body_temp_path \(prefix)/tmp/b; proxy_temp_path \(prefix)/tmp/p; fastcgi_temp_path \(prefix)/tmp/f;
            uwsgi_temp_path \(prefix)/tmp/u; scgi_temp_path \(prefix)/tmp/s;
            include \(prefix)/upstream.conf;
            server { listen \(host):\(port); location / { proxy_pass http://shipit_app; } }
        }
        EOF
        printf 'upstream shipit_app { server \(host):\(port + 1) down; }\\n' > \(prefix)/upstream.conf
        /usr/sbin/nginx -p \(prefix)/ -c \(prefix)/nginx.conf -e \(prefix)/error.log && echo started
        """
    }

    /// A reload command that parks on `host` (once `<gate>/armed` exists, while the upstream
    /// names that host) until `<gate>/go` exists; it says so with `<gate>/entered`. The gate lives
    /// under /tmp, which the test hosts share with the test.
    public func parkingReload(on host: String) throws -> (gate: String, reload: String) {
        let gate = Local.tempDir("reload-gate")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: gate)
        let reload = gate + "/reload"
        try """
        #!/bin/sh
        if [ -f '\(gate)/armed' ] && [ ! -f '\(gate)/go' ] && grep -q '\(host):' '\(prefix)/upstream.conf' 2>/dev/null; then
          touch '\(gate)/entered'; while [ ! -f '\(gate)/go' ]; do sleep 0.05; done
        fi
        exec \(nginx) -s reload
        """.write(toFile: reload, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: reload)
        return (gate, reload)
    }

    public var tearDown: String { "kill $(cat \(prefix)/nginx.pid) 2>/dev/null; rm -rf \(prefix)" }
}
