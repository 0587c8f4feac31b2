#!/usr/bin/env python3
"""Bounded HTTP load against the test hosts' public ports, to count requests lost during a deploy.

    scripts/load.py --targets 127.0.0.11:8080,127.0.0.12:8080 [--threads 3] [--seconds 60]
                    [--max-requests 200000] [--stop-file F] [--bad v3] [--keepalive]
                    [--name a.test [--tls --ca ca.pem]] [--clients N]

Loopback (127.0.0.0/8) and the systemd test hosts' own addresses (listed by scripts/systemdhosts.sh
in $SHIPIT_TESTHOSTS/systemd-hosts.txt) only: anything else is refused. Each thread loops GET / on its target, a
new connection per request (or one kept-alive connection with --keepalive, retried once when the
server closed it idle, as browsers and Go's client do); with --name, asking for that host name (a
front door's app), over HTTPS with --tls (SNI, the certificate checked against --ca), until the stop file appears, the time is
up or the request budget is spent. Prints one JSON object: requests, failed (no answer, or not
2xx), bad (answers whose body names the --bad version), per-version counts, the first errors;
failed_versions: the failed answers whose body names a version (an app's own 5xx). With
--clients N, each thread takes turns as N clients, each with its own cookies (a browser's jar
for the target): mixed counts the clients that got answers from more than one version, back the
ones that went back to a version they had left.
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
    ap.add_argument("--clients", type=int, default=0)
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
    stats = {"requests": 0, "failed": 0, "bad": 0, "retried": 0, "versions": {}, "errors": [],
             "failed_versions": {}, "mixed": 0, "back": 0}
    deadline = time.monotonic() + min(a.seconds, 600)
    budget = [min(a.max_requests, 2_000_000)]

    def stop():
        return time.monotonic() > deadline or (a.stop_file and os.path.exists(a.stop_file))

    def version_of(body):
        return body.rsplit(" ", 1)[-1].strip() if body else "?"

    def record(ok, body=None, error=None, retried=False):
        with lock:
            stats["requests"] += 1
            budget[0] -= 1
            if retried: stats["retried"] += 1
            if not ok:
                stats["failed"] += 1
                if len(stats["errors"]) < 20: stats["errors"].append(error)
                if body and "releases-example" in body:
                    v = version_of(body)
                    stats["failed_versions"][v] = stats["failed_versions"].get(v, 0) + 1
                return
            version = version_of(body)
            stats["versions"][version] = stats["versions"].get(version, 0) + 1
            if a.bad and version == a.bad: stats["bad"] += 1

    def one(conn, jar=None):
        headers = {"Connection": "keep-alive" if a.keepalive else "close"}
        if a.name: headers["Host"] = f"{a.name}:{conn.port}"
        if jar: headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        conn.request("GET", "/", headers=headers)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        if jar is not None:
            for sc in r.headers.get_all("Set-Cookie") or []:
                k, _, v = sc.split(";", 1)[0].partition("=")
                if k.strip(): jar[k.strip()] = v.strip()
        return r.status, body, r.getheader("Connection", "")

    def seen(client, body):
        """A client's versions in order: whether it is mixed, or went back."""
        if not body or "releases-example" not in body: return
        v = version_of(body)
        hist = client["versions"]
        if hist and hist[-1] == v: return
        with lock:
            if len(hist) == 1: stats["mixed"] += 1
            if v in hist and not client["back"]:
                client["back"] = True
                stats["back"] += 1
        hist.append(v)

    def worker(host, port):
        if a.clients > 0:
            return clients_worker(host, port)
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

    def clients_worker(host, port):
        """Takes turns as --clients clients, each with its cookie jar, a new connection per request."""
        clients = [{"jar": {}, "versions": [], "back": False} for _ in range(a.clients)]
        i = 0
        while not stop() and budget[0] > 0:
            c = clients[i % len(clients)]; i += 1
            conn = None
            try:
                conn = open_conn(host, port)
                status, body, _ = one(conn, c["jar"])
                seen(c, body)
                record(200 <= status < 300, body, f"{host}:{port} HTTP {status}")
            except Exception as e:
                record(False, error=f"{host}:{port} {type(e).__name__}: {e}")
            finally:
                if conn: conn.close()

    threads = [threading.Thread(target=worker, args=t, daemon=True) for t in targets for _ in range(a.threads)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(stats))

if __name__ == "__main__":
    main()
