#!/usr/bin/env python3
"""A local stand-in for GitHub's Deployments API, for shipit's tests (loopback only). It checks what
a real client must send — POST, `Authorization: Bearer <--token>`, `Accept: application/vnd.github+json`,
`X-GitHub-Api-Version`, a JSON body with the fields GitHub requires — answers as GitHub does (201 with
an id; 401 on a wrong token; 422 on a malformed body) and appends each request to --out as JSON.

  github-api-stub.py --port 29500 --token t0ken --out /tmp/api.jsonl
"""
import argparse, json, re, signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A test runner's thread starts this with SIGTERM blocked (its signal mask is inherited): the
# test's terminate() would leave the stub running for good.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--out", required=True)
args = ap.parse_args()
STATES = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        problems = []
        if self.headers.get("Authorization") != "Bearer " + args.token:
            with open(args.out, "a") as f:
                f.write(json.dumps({"path": self.path, "problems": ["bad token"]}) + "\n")
            return self.answer(401, {"message": "Bad credentials"})
        if self.headers.get("Accept") != "application/vnd.github+json":
            problems.append("Accept")
        if not self.headers.get("X-GitHub-Api-Version"):
            problems.append("X-GitHub-Api-Version")
        if not isinstance(body, dict):
            problems.append("body is not a JSON object")
            body = {}
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/deployments(?:/(\d+)/statuses)?", self.path)
        if not m:
            problems.append("unknown path")
        elif m.group(3) is None:
            if not body.get("ref") or not body.get("environment") or body.get("required_contexts") != []:
                problems.append("deployment body needs ref, environment, required_contexts: []")
        elif body.get("state") not in STATES:
            problems.append("status state %r" % body.get("state"))
        with open(args.out, "a") as f:
            f.write(json.dumps({"path": self.path, "body": body, "problems": problems}) + "\n")
        if problems:
            return self.answer(422, {"message": "; ".join(problems)})
        self.answer(201, {"id": 7, "state": body.get("state")} if m.group(3) else {"id": 7, "ref": body["ref"]})

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
