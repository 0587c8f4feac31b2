#!/usr/bin/env python3
"""releases-example: a tiny app shipit deploys. GET / answers with the version; /health/live and
/health/ready are the smoke-test endpoints. Binds to the host's own address (test hosts share one
network namespace, so each listens on its own 127.0.0.x)."""
import argparse, http.server, os

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = open(os.path.join(HERE, "VERSION")).read().strip()
READY = os.path.join(HERE, "READY_STATUS")


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = (body + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/":
            self.reply(200, f"hello from releases-example {VERSION}")
        elif self.path == "/health/live":
            self.reply(200, "live")
        elif self.path == "/health/ready":
            # A release can declare itself not ready (v3 does, to show an automatic rollback).
            status = int(open(READY).read().strip()) if os.path.exists(READY) else 200
            self.reply(status, "ready" if status == 200 else "not ready")
        else:
            self.reply(404, "not found")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bound-file", help="written once the port is bound, so start.sh knows it worked")
    a = p.parse_args()
    server = http.server.ThreadingHTTPServer((a.bind, a.port), Handler)
    if a.bound_file:
        with open(a.bound_file, "w") as f:
            f.write(str(os.getpid()))
    server.serve_forever()
