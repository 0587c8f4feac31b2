#!/usr/bin/env bash
# `make test`: build, start real sshd test hosts, run every test, stop the hosts (whatever happens).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3}
swift build --build-tests
trap 'scripts/testhosts.sh down >/dev/null 2>&1 || true; scripts/registry.sh down >/dev/null 2>&1 || true; scripts/pg.sh down >/dev/null 2>&1 || true' EXIT
scripts/testhosts.sh up "$N"
# The image strategy's tests: rootless podman for the hosts' deploy user, a local registry, and the
# demo images pushed to it.
scripts/podman-setup.sh
scripts/registry.sh up
scripts/images.sh
# The shared ledger's tests: a throwaway PostgreSQL 15 on loopback.
scripts/pg.sh up
swift test --skip-build "$@"
