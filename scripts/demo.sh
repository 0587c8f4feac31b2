#!/usr/bin/env bash
# `make demo`: start 3 local sshd hosts, deploy releases-example v1 and v2, then the broken v3, which
# shipit rolls back automatically; show where every host is and what it serves, roll back to v1,
# then status, verify and the ledger's answer to "what changed?".
set -euo pipefail
cd "$(dirname "$0")/.."
SHIPIT=$PWD/.build/debug/shipit
scripts/testhosts.sh up 3
eval "$(scripts/testhosts.sh env)"
CONN=(--hosts "$SHIPIT_TEST_HOSTS" --user "$SHIPIT_TEST_USER" --identity "$SHIPIT_TEST_IDENTITY" --known-hosts "$SHIPIT_TEST_KNOWN_HOSTS")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cd releases-example

step "shipit exec: one command on every host, in parallel, over libssh2"
$SHIPIT exec "${CONN[@]}" -- 'echo "$(id -un) with $(df -h /srv | tail -1 | tr -s " " | cut -d" " -f2) on /srv"'

step "deploy v1"
$SHIPIT deploy --from v1
step "deploy v2"
$SHIPIT deploy --from v2
step "deploy v3 (its /health/ready answers 503): shipit rolls every host back to v2"
set +e
$SHIPIT deploy --from v3
echo "(exit code $? = deploy failed and rolled back)"
set -e

step "where every host is, and what it serves"
$SHIPIT exec "${CONN[@]}" -- 'set -- $SSH_CONNECTION; echo "current -> $(readlink /srv/demo/current | sed "s|.*/||"): $(python3 -c "import urllib.request,sys; print(urllib.request.urlopen(\"http://$3:8080/\").read().decode().strip())")"; echo "failed releases kept for inspection: $(ls /srv/demo/.shipit/failed | tr "\n" " ")"'

step "shipit rollback: back to v1 in one command"
$SHIPIT rollback

step "shipit status: current release, health and lock per host, and drift"
$SHIPIT status
step "shipit verify: the CI check after a deploy (healthy, one release, files intact)"
$SHIPIT verify

step "shipit changes --since 2h: what changed, from the ledger merged with each host's history"
$SHIPIT changes --since 2h
printf '\nHosts keep running: try `cd releases-example && %s deploy --from v2`; `make hosts-down` stops them.\n' "$SHIPIT"
