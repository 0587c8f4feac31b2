#!/usr/bin/env bash
# Makes rootless podman usable by the test hosts' `deploy` user on this machine kind (its crun and
# default rlimits fail inside this sandbox): runc instead of crun, a nofile ulimit podman can set, and /dev/net/tun
# open to users so slirp4netns can publish ports. Run as root; idempotent.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "podman-setup: run as root" >&2; exit 1; }
mkdir -p /etc/containers
if ! grep -q 'shipit test hosts' /etc/containers/containers.conf 2>/dev/null; then
  cat > /etc/containers/containers.conf <<'CONF'
# shipit test hosts: crun fails on this machine kind; runc works.
[containers]
default_ulimits = ["nofile=1024:1024"]
[engine]
runtime = "runc"
CONF
fi
[ -e /dev/net/tun ] && chmod 666 /dev/net/tun
USER_NAME=${SHIPIT_TEST_USER:-deploy}
if id "$USER_NAME" >/dev/null 2>&1; then
  grep -q "^$USER_NAME:" /etc/subuid || echo "$USER_NAME:100000:65536" >> /etc/subuid
  grep -q "^$USER_NAME:" /etc/subgid || echo "$USER_NAME:100000:65536" >> /etc/subgid
fi
echo "podman-setup: done"
