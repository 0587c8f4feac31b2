#!/usr/bin/env bash
# A local image registry for the image-strategy tests and demo: Debian's docker-registry on
# 127.0.0.1:5055 (plain HTTP, loopback only, no auth), data in $SHIPIT_REGISTRY_DIR.
#   scripts/registry.sh up | down | status
set -euo pipefail
DIR=${SHIPIT_REGISTRY_DIR:-/tmp/shipit-registry}
ADDR=${SHIPIT_REGISTRY_ADDR:-127.0.0.1:5055}
die() { echo "registry: $*" >&2; exit 1; }

. "$(dirname "$0")/hostlib.sh"
running() { ours "$DIR/pid" registry >/dev/null; }

case "${1:-}" in
  up)
    command -v docker-registry >/dev/null || die "docker-registry is not installed (apt-get install docker-registry)"
    if running; then echo "registry: up on $ADDR"; exit 0; fi
    mkdir -p "$DIR/data"
    cat > "$DIR/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: $ADDR
CONF
    setsid docker-registry serve "$DIR/config.yml" >"$DIR/log" 2>&1 </dev/null &
    echo $! > "$DIR/pid"
    for _ in $(seq 1 100); do
      curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1 && { echo "registry: up on $ADDR"; exit 0; }
      sleep 0.05
    done
    die "did not start; see $DIR/log"
    ;;
  down)
    kill_ours "$DIR/pid" registry
    rm -f "$DIR/pid"
    echo "registry: stopped"
    ;;
  status) if running; then echo "registry: up on $ADDR"; else echo "registry: down"; fi ;;
  *) die "usage: $0 up|down|status" ;;
esac
