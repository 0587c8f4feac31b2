#!/usr/bin/env bash
# `make demo-image`: the image strategy end to end. Starts 3 local sshd hosts and a local registry,
# builds demo:v1/v2/v3 with `podman import` (no Docker engine, no Dockerfile), then deploys v1, v2
# and the broken v3 — rolled back to v2 automatically — rolls back to v1 by digest, and shows
# `shipit releases` and `shipit changes`.
set -euo pipefail
cd "$(dirname "$0")/.."
SHIPIT=$PWD/.build/debug/shipit
scripts/testhosts.sh up 3
scripts/podman-setup.sh
scripts/registry.sh up
scripts/images.sh
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cd releases-example/image

step "deploy image v1 (pulled on every host in pre-flight; its digest is what is recorded)"
$SHIPIT deploy --tag v1
step "deploy image v2"
$SHIPIT deploy --tag v2
step "deploy image v3 (no /health/ready): the old container is started again on every host"
set +e
$SHIPIT deploy --tag v3
echo "(exit code $? = deploy failed and rolled back)"
set -e
step "shipit rollback: the previous digest, already on every host (no pull)"
$SHIPIT rollback
step "shipit releases"
$SHIPIT releases
step "shipit changes --since 1h"
$SHIPIT changes --since 1h
