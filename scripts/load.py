#!/usr/bin/env python3
"""Bounded HTTP load against the test hosts' public ports, to count requests lost during a deploy.

    scripts/load.py --targets 127.0.0.11:8080,127.0.0.12:8080 [--threads 3] [--seconds 60]
                    [--max-requests 200000] [--stop-file F] [--bad v3] [--keepalive]
                    [--name a.test [--tls --ca ca.pem]]

Loopback (127.0.0.0/8) and the systemd test hosts' own addresses (listed by scripts/systemdhosts.sh
in $SHIPIT_TESTHOSTS/systemd-hosts.txt) only: anything else is refused. Each thread loops GET / on its target, a
new connection per request (or one kept-alive connection with --keepalive, retried once when the
server closed it idle, as browsers and Go's client do); with --name, asking for that host name (a
front door's app), over HTTPS with --tls (SNI, the certificate checked against --ca), until the stop file appears, the time is
up or the request budget is spent. Prints one JSON object: requests, failed (no answer, or not
2xx), bad (answers whose body names the --bad version), per-version counts, the first errors.
"""
import argparse, http.client, ipaddress, json, os, socket, ssl, sys, threading, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", required=True)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-requests", type=int, default=200000)
    ap.add_argument("--stop-file")
    ap.add_argument("--bad")
    ap.add_argument("--keepalive", action="store_true")
    ap.add_argument("--name")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca")
    a = ap.parse_args()
    ctx = None
    if a.tls:
        if not a.name: sys.exit("load.py: --tls needs --name (the TLS server name)")
        ctx = ssl.create_default_context(cafile=a.ca)

    class NamedTLS(http.client.HTTPSConnection):
        """Connects to the target's address, with --name as the TLS server name."""
        def connect(self):
            sock = socket.create_connection((self.host, self.port), self.timeout)
            self.sock = ctx.wrap_socket(sock, server_hostname=a.name)

    def open_conn(host, port):
        if ctx: return NamedTLS(host, port, timeout=5, context=ctx)
        return http.client.HTTPConnection(host, port, timeout=5)
    own = set()
    try:
        with open(os.path.join(os.environ.get("SHIPIT_TESTHOSTS", "/tmp/shipit-testhosts"), "systemd-hosts.txt")) as f:
            own = {line.strip() for line in f if line.strip()}
    except OSError:
        pass
    targets = []
    for t in a.targets.split(","):
        host, port = t.rsplit(":", 1)
        if not (ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8") or host in own):
            sys.exit(f"load.py: {host} is neither a loopback address nor a systemd test host; refusing")
        targets.append((host, int(port)))
    lock = threading.Lock()
    stats = {"requests": 0, "failed": 0, "bad": 0, "retried": 0, "versions": {}, "errors": []}
    deadline = time.monotonic() + min(a.seconds, 600)
    budget = [min(a.max_requests, 2_000_000)]

    def stop():
        return time.monotonic() > deadline or (a.stop_file and os.path.exists(a.stop_file))

    def record(ok, body=None, error=None, retried=False):
        with lock:
            stats["requests"] += 1
            budget[0] -= 1
            if retried: stats["retried"] += 1
            if not ok:
                stats["failed"] += 1
                if len(stats["errors"]) < 20: stats["errors"].append(error)
                return
            version = body.rsplit(" ", 1)[-1].strip() if body else "?"
            stats["versions"][version] = stats["versions"].get(version, 0) + 1
            if a.bad and version == a.bad: stats["bad"] += 1

    def one(conn):
        headers = {"Connection": "keep-alive" if a.keepalive else "close"}
        if a.name: headers["Host"] = f"{a.name}:{conn.port}"
        conn.request("GET", "/", headers=headers)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        return r.status, body, r.getheader("Connection", "")

    def worker(host, port):
        conn = None
        while not stop() and budget[0] > 0:
            reused = conn is not None
            try:
                if conn is None: conn = open_conn(host, port)
                try:
                    status, body, connection = one(conn)
                    retried = False
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) if reused else () as e:
                    # The server closed the idle kept-alive connection: retry once on a new one.
                    conn.close(); conn = open_conn(host, port)
                    status, body, connection = one(conn)
                    retried = True
                record(200 <= status < 300, body, f"{host}:{port} HTTP {status}", retried)
                if not a.keepalive or connection.lower() == "close": conn.close(); conn = None
            except Exception as e:
                record(False, error=f"{host}:{port} {type(e).__name__}: {e}")
                if conn: conn.close()
                conn = None
        if conn: conn.close()

    threads = [threading.Thread(target=worker, args=t, daemon=True) for t in targets for _ in range(a.threads)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(stats))

if __name__ == "__main__":
    main()
