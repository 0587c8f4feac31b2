#!/usr/bin/env python3
"""A webhook receiver for shipit's notification tests (loopback only): verifies each POST's
X-Shipit-Signature-256 (HMAC-SHA256 of the body with --secret) and appends one JSON line per request
to --out: {"event", "valid", "body"}. With --delay it holds every request that long before answering
(a dead receiver); --status sets the answer. Runs until killed.

  webhook-receiver.py --port 29123 --secret s3cret --out /tmp/hooks.jsonl [--delay 30] [--status 200]
"""
import argparse, hashlib, hmac, json, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--secret", default="")
ap.add_argument("--out", required=True)
ap.add_argument("--delay", type=float, default=0)
ap.add_argument("--status", type=int, default=200)
args = ap.parse_args()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Shipit-Signature-256", "")
        record = {"event": self.headers.get("X-Shipit-Event"), "valid": bool(args.secret) and hmac.compare_digest(expected, got),
                  "signature": got, "contentType": self.headers.get("Content-Type"), "body": json.loads(body or b"{}")}
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")
        if args.delay:
            time.sleep(args.delay)
        self.send_response(args.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
