#!/usr/bin/env python3
"""A webhook receiver for shipit's notification tests (loopback only): verifies each POST as a
receiver should (docs/ci.md): X-Shipit-Signature-256 is the HMAC-SHA256, keyed with --secret, of
X-Shipit-Timestamp + "." + the body, and the timestamp is at most --max-age seconds from now (an
older request is a replay). Appends one JSON line per request to --out: {"event", "valid", "why",
"timestamp", "signature", "raw", "body"}. With --delay it holds every request that long before
answering (a dead receiver); --status sets the answer to a valid request (an invalid one gets 401,
as a real receiver would refuse it). Runs until killed.

  webhook-receiver.py --port 29123 --secret s3cret --out /tmp/hooks.jsonl [--max-age 300] [--delay 30] [--status 200]
"""
import argparse, hashlib, hmac, json, signal, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--secret", default="")
ap.add_argument("--out", required=True)
ap.add_argument("--delay", type=float, default=0)
ap.add_argument("--status", type=int, default=200)
ap.add_argument("--max-age", type=float, default=300)
args = ap.parse_args()
# A test runner's thread starts this with SIGTERM blocked (its signal mask is inherited): the
# test's terminate() would leave the receiver running for good.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        stamp = self.headers.get("X-Shipit-Timestamp", "")
        got = self.headers.get("X-Shipit-Signature-256", "")
        expected = "sha256=" + hmac.new(args.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not args.secret:
            why = "no secret"
        elif not stamp.isdigit():
            why = "no timestamp"
        elif not hmac.compare_digest(expected, got):
            why = "bad signature"
        elif abs(time.time() - int(stamp)) > args.max_age:
            why = "too old (replay?)"
        else:
            why = ""
        record = {"event": self.headers.get("X-Shipit-Event"), "valid": why == "", "why": why, "timestamp": stamp,
                  "signature": got, "contentType": self.headers.get("Content-Type"),
                  "raw": body.decode("utf-8", "replace"), "body": json.loads(body or b"{}")}
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")
        if args.delay:
            time.sleep(args.delay)
        self.send_response(args.status if why == "" else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
