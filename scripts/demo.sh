#!/usr/bin/env bash
# `make demo`: start 4 local sshd hosts (3 web, 1 worker), deploy releases-example v1 and v2, then the broken v3, which
# fails its smoke test on the idle slot and never gets a request; show where every host is and what
# it serves, roll back to v1 (a traffic switch to the warm standby), all under a bounded load on
# the hosts' public ports that counts failed requests and requests answered by v3 (both 0); every
# deploy goes to a canary first (rollout steps); v6, whose error ratio climbs, is stopped there;
# v7, whose worker never gets healthy, rolls back web and worker alike; then status, verify, logs
# and the ledger's answer to "what changed?".
set -euo pipefail
cd "$(dirname "$0")/.."
SHIPIT=$PWD/.build/debug/shipit
scripts/testhosts.sh up 4
eval "$(scripts/testhosts.sh env)"
# The web hosts (the first three) take the load; the fourth runs the worker (releases-example/shipit.yml).
WEB=$(echo "$SHIPIT_TEST_HOSTS" | cut -d, -f1-3)
CONN=(--hosts "$SHIPIT_TEST_HOSTS" --user "$SHIPIT_TEST_USER" --identity "$SHIPIT_TEST_IDENTITY" --known-hosts "$SHIPIT_TEST_KNOWN_HOSTS")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cd releases-example

step "start from empty hosts (stop what an earlier demo left running)"
$SHIPIT exec "${CONN[@]}" -- 'for p in /srv/demo/.shipit/roles/*.pid; do [ -f "$p" ] && kill -9 -- "-$(cat "$p")"; done; for p in /srv/demo/shared/app.pid /srv/demo/.shipit/slots/*.pid /srv/demo/.shipit/proxy/nginx.pid; do [ -f "$p" ] && kill "$(cat "$p")"; done; rm -rf /srv/demo; echo clean'

step "shipit exec: one command on every host, in parallel, over libssh2"
$SHIPIT exec "${CONN[@]}" -- 'echo "$(id -un) with $(df -h /srv | tail -1 | tr -s " " | cut -d" " -f2) on /srv"'

step "deploy v1: the app on the three web hosts, the worker on 127.0.0.14"
$SHIPIT deploy --from v1
step "the worker: a job dropped into its spool is processed by v1 (shipit exec --roles worker)"
$SHIPIT exec --roles worker -- 'echo "resize photo 1" > /srv/demo/shared/spool/in/job-1; sleep 1; cat /srv/demo/shared/spool/done/job-1'
step "load: 3 clients per host on <host>:8080 (loopback only, bounded), counting every answer"
STOP=$(mktemp -u)
python3 ../scripts/load.py --targets "$(echo "$WEB" | sed 's/\([^,]*\)/\1:8080/g')" --threads 3 --seconds 120 \
  --stop-file "$STOP" --bad v3 > "$STOP.json" &
LOAD=$!
step "deploy v2: started and smoke-tested on the idle slot, then the proxy switches to it; the worker restarts with v2"
$SHIPIT deploy --from v2
step "deploy v3 (its /health/ready answers 503): it fails on the idle slot and never gets a request"
set +e
$SHIPIT deploy --from v3
echo "(exit code $? = deploy failed before any switch; every host still serves v2)"
set -e

step "where every host is, and what it serves"
$SHIPIT exec --roles web -- 'set -- $SSH_CONNECTION; echo "current -> $(readlink /srv/demo/current | sed "s|.*/||"): $(python3 -c "import urllib.request,sys; print(urllib.request.urlopen(\"http://$3:8080/\").read().decode().strip())")"; echo "failed releases kept for inspection: $(ls /srv/demo/.shipit/failed | tr "\n" " ")"'

step "shipit rollback: back to v1 in one command (v1 is still warm on the other slot: a traffic switch)"
$SHIPIT rollback
touch "$STOP"; wait "$LOAD"
step "the load while all this happened"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%d requests: %d failed, %d answered by the broken v3; answers by version: %s" % (r["requests"], r["failed"], r["bad"], r["versions"]))' "$STOP.json"
rm -f "$STOP" "$STOP.json"

step "deploy v6 (5 server errors a second): the canary's gate sees its error ratio climb; only the canary is rolled back"
set +e
$SHIPIT deploy --from v6
echo "(exit code $? = a rollout step failed and every switched host was rolled back; the other hosts never saw v6)"
set -e

step "deploy v7 (its worker never reaches its queue): the worker's status check fails in the second step; web and worker go back together"
set +e
$SHIPIT deploy --from v7
echo "(exit code $? = the deploy failed after a switch and every switched host, web and worker, was rolled back)"
set -e
$SHIPIT exec --roles worker -- 'echo "the worker runs: $(cut -d" " -f1 /srv/demo/shared/spool/worker.heartbeat)"'

step "shipit status: current release, health, the worker and the lock per host, and drift"
$SHIPIT status
step "shipit verify: the CI check after a deploy (healthy, one release, files intact)"
$SHIPIT verify

step "shipit logs --since 10m --grep ERROR: the error lines of every host, merged by time (v3 on its slot, v6 on the canary, v7's worker)"
$SHIPIT logs --since 10m --grep ERROR | tail -n 9

step "shipit logs --role worker: the worker's own log (v7's attempts to reach its queue, then v1 back)"
$SHIPIT logs --since 10m --role worker | tail -n 6

step "shipit changes --since 2h: what changed, from the ledger merged with each host's history"
$SHIPIT changes --since 2h
printf '\nHosts keep running: try `cd releases-example && %s deploy --from v2`; `make hosts-down` stops them.\n' "$SHIPIT"
