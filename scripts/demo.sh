#!/usr/bin/env bash
# `make demo`: start 3 local test hosts and run shipit against them.
set -euo pipefail
cd "$(dirname "$0")/.."
SHIPIT=.build/debug/shipit
scripts/testhosts.sh up 3
eval "$(scripts/testhosts.sh env)"
CONN=(--hosts "$SHIPIT_TEST_HOSTS" --user "$SHIPIT_TEST_USER" --identity "$SHIPIT_TEST_IDENTITY" --known-hosts "$SHIPIT_TEST_KNOWN_HOSTS")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "shipit exec on every host, in parallel, over libssh2"
$SHIPIT exec "${CONN[@]}" -- 'echo "$(id -un) on $(hostname) sees $(df -h /srv | tail -1 | tr -s " " | cut -d" " -f2) /srv"'

step "a command that fails on one host: exit status says so, and names it"
set +e
$SHIPIT exec "${CONN[@]}" -- 'set -- $SSH_CONNECTION; [ "$3" != 127.0.0.12 ] || { echo "disk on fire" >&2; exit 3; }'
echo "(exit code $?)"
set -e

step "done — hosts keep running; 'make hosts-down' stops them"
