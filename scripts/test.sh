#!/usr/bin/env bash
# `make test`: build, start real sshd test hosts, run every test, stop the hosts (whatever happens).
#
#   scripts/test.sh [all|main|faults] [swift test options…]
#     all     (default) the unit and integration tests, the installed binary, then the
#             fault-injection suite
#     main    the unit and integration tests and the installed binary (scripts/test-install.sh)
#     faults  the fault-injection suite only (`make test-faults`): sshd killed mid-step, signals in
#             every state, hostile input, 50 hosts… (the Fault*Tests suites)
# The fault suite runs as a phase of its own: it kills hosts and loads the machine, and the other
# tests should not share the two cores with 50 sshds.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3}
MODE=all
case "${1:-}" in all|main|faults) MODE=$1; shift ;; esac
FAULTS='\.Fault[A-Za-z]*Tests'
SCALE='\.FaultScaleTests'
swift build --build-tests
trap 'scripts/systemdhosts.sh down >/dev/null 2>&1 || true; scripts/nethost.sh down web-a >/dev/null 2>&1 || true; scripts/jumphosts.sh down >/dev/null 2>&1 || true; scripts/testhosts.sh down >/dev/null 2>&1 || true; scripts/registry.sh down >/dev/null 2>&1 || true; scripts/pg.sh down >/dev/null 2>&1 || true' EXIT
scripts/testhosts.sh up "$N"
# Targets reachable only through a bastion (ProxyJump tests).
scripts/jumphosts.sh up
# The image strategy's tests: rootless podman for the hosts' deploy user, a local registry, and the
# demo images pushed to it.
scripts/podman-setup.sh
scripts/registry.sh up
scripts/images.sh
# The shared ledger's tests: a throwaway PostgreSQL 15 on loopback.
scripts/pg.sh up
# Hosts whose PID 1 is systemd (reboots, supervision): rootful podman containers; the first run
# builds their image from Debian packages (a minute or two), later runs reuse it.
scripts/systemdhosts.sh up 3
# One more, run privileged so its deploy user has rootless podman: the image strategy's reboots.
scripts/systemdhosts.sh up-engine
if [ "$MODE" != faults ]; then
  echo "== unit and integration tests"
  swift test --skip-build --skip "$FAULTS" "$@"
  echo "== the installed binary (make install into an empty prefix)"
  scripts/test-install.sh
fi
if [ "$MODE" != main ]; then
  echo "== fault-injection suite"
  swift test --skip-build --filter "$FAULTS" --skip "$SCALE" "$@"
  # 200 sshds and a 200-wide deploy take both cores: alone, so that neither it nor the other
  # fault cases fail on the other's handshake and health timeouts.
  echo "== fault-injection suite: 200 hosts"
  swift test --skip-build --filter "$SCALE" "$@"
fi
