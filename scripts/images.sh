#!/usr/bin/env bash
# Builds releases-example's image variant without a Docker engine or a Dockerfile: a static busybox
# rootfs whose httpd serves /www (index.html = the version, /health/live, /health/ready), imported
# with `podman import` and pushed to the local registry as demo:v1, demo:v2 and demo:v3 (v3 has no
# /health/ready, so its smoke test fails).
#   scripts/images.sh [REGISTRY]     (default 127.0.0.1:5055)
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY=${1:-${SHIPIT_REGISTRY_ADDR:-127.0.0.1:5055}}
BUSYBOX=${BUSYBOX:-/bin/busybox}
file -L "$BUSYBOX" 2>/dev/null | grep -q "statically linked" || { echo "images: $BUSYBOX is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for v in v1 v2 v3; do
  root="$work/$v"
  mkdir -p "$root/bin" "$root/www/health"
  cp "$BUSYBOX" "$root/bin/busybox"
  for cmd in sh httpd; do ln -s busybox "$root/bin/$cmd"; done
  echo "hello from releases-example image $v" > "$root/www/index.html"
  echo live > "$root/www/health/live"
  [ "$v" = v3 ] || echo ready > "$root/www/health/ready"
  # v2 and v3 carry the same expand migrations as releases-example/v2 (for `migrations: dir: db/migrations`).
  if [ "$v" != v1 ]; then mkdir -p "$root/db/migrations" && cp releases-example/v2/db/migrations/*.sql "$root/db/migrations/"; fi
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/$v.tar" .
  # httpd as PID 1 would ignore SIGTERM (and make every stop wait for the kill timeout): a shell
  # in front forwards it.
  podman import --quiet --change 'CMD ["/bin/sh", "-c", "/bin/httpd -f -p 8080 -h /www & p=$!; trap \"kill $p; exit 0\" TERM; wait"]' \
    --change 'LABEL org.opencontainers.image.title=releases-example' "$work/$v.tar" "$REGISTRY/demo:$v" >/dev/null
  podman push --quiet --tls-verify=false "$REGISTRY/demo:$v"
  echo "images: pushed $REGISTRY/demo:$v"
done
