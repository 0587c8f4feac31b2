#!/usr/bin/env bash
# A test host with a network of its own, like a real server: its own network namespace, linked to
# the deployer's by a veth pair (10.213.N.1 here, 10.213.N.2 there), and its own /etc/hosts that maps
# its name to 127.0.1.1, as Debian's installer writes it for a machine without a static address.
# What listens on the name (resolved there) answers on the host's loopback only: nobody outside
# reaches it. sshd offers ed25519, ECDSA and RSA keys; known_hosts gets the name's entry as `ssh`
# writes it. Keys, users and known_hosts are testhosts.sh's (run `scripts/testhosts.sh up` first).
#
#   scripts/nethost.sh up NAME N      start (idempotent); N in 1..250 picks the addresses
#   scripts/nethost.sh down NAME      stop everything this script started for NAME
#   scripts/nethost.sh hosts NAME     print the path of a hosts file for the deployer: the
#                                     machine's /etc/hosts plus "10.213.N.2 NAME" (bind-mount it
#                                     over /etc/hosts in a private mount namespace, `unshare -m`)
set -euo pipefail
. "$(dirname "$0")/hostlib.sh"
close_inherited_fds

STATE=${SHIPIT_TESTHOSTS:-/tmp/shipit-testhosts}
USER_NAME=${SHIPIT_TEST_USER:-deploy}
SSHD=${SSHD:-/usr/sbin/sshd}

die() { echo "nethost: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -f "$STATE/keys/id_ed25519" ] || die "run scripts/testhosts.sh up first (keys, user)"

# The namespace holder is a `sleep infinity`; sshd runs with this host's config.
holder() { ours "$D/netns.pid" "sleep infinity"; }
alive() { ours "$1" "${2:-sleep infinity}" >/dev/null; }

name=${2:-}
[[ "$name" =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "NAME must be a short host name"
D=$STATE/nethost/$name

up() {
  local n=$1 uid gid here there
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 250 ] || die "N must be 1..250"
  here=10.213.$n.1; there=10.213.$n.2
  mkdir -p "$D" /run/sshd
  if ! alive "$D/netns.pid"; then
    setsid unshare --net sh -c 'ip link set lo up && exec sleep infinity' </dev/null >/dev/null 2>&1 &
    echo $! > "$D/netns.pid"
    sleep 0.2
    alive "$D/netns.pid" || die "could not create the network namespace"
    local pid link="sh$n-$(printf %s "$name" | cksum | cut -c1-6)"
    pid=$(cat "$D/netns.pid")
    ip link del "$link" 2>/dev/null || true
    ip link add "$link" type veth peer name eth0 netns "$pid"
    ip addr add "$here/30" dev "$link"
    ip link set "$link" up
    nsenter --net="/proc/$pid/ns/net" sh -c "ip addr add $there/30 dev eth0 && ip link set eth0 up && ip route add default via $here"
    echo "$link" > "$D/link"
  fi
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$name" > "$D/etc-hosts"
  { cat /etc/hosts; printf '%s\t%s\n' "$there" "$name"; } > "$D/deployer-hosts"
  sshd_config "$D/sshd_config" "$there:22" "$D/host" "$D/sshd.pid"
  known_host "$name" "$D/host_ed25519_key.pub"
  known_host "$there" "$D/host_ed25519_key.pub"
  alive "$D/sshd.pid" "$D/sshd_config" && [ -f "$D/sshd.started" ] && return 0
  uid=$(id -u "$USER_NAME"); gid=$(id -g "$USER_NAME")
  setsid nsenter --net="/proc/$(cat "$D/netns.pid")/ns/net" unshare --mount --propagation private sh -c \
    "mount -t tmpfs -o size=128m,mode=0755,uid=$uid,gid=$gid tmpfs /srv && mount --bind '$D/etc-hosts' /etc/hosts && exec $SSHD -D -e -f '$D/sshd_config'" \
    </dev/null >>"$D/sshd.log" 2>&1 &
  echo $! > "$D/sshd.pid"
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/$there/22") 2>/dev/null; then touch "$D/sshd.started"; echo "nethost: $name on $there (its own /etc/hosts: $name is 127.0.1.1)"; return 0; fi
    sleep 0.05
  done
  die "sshd for $name did not start (see $D/sshd.log)"
}

down() {
  [ -d "$D" ] || return 0
  kill_ours "$D/sshd.pid" "$D/sshd_config"
  # Whatever the deploy user started in the namespace (the app, its proxy) goes with it; never
  # a process of the deployer's own namespace.
  local pid p ns
  if pid=$(holder) && ns=$(readlink "/proc/$pid/ns/net") && [ -n "$ns" ] && [ "$ns" != "$(readlink /proc/self/ns/net)" ]; then
    for p in $(ps -o pid= -u "$USER_NAME"); do
      [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$ns" ] && kill "$p" 2>/dev/null || true
    done
    kill "$pid" 2>/dev/null || true
  fi
  [ -f "$D/link" ] && ip link del "$(cat "$D/link")" 2>/dev/null || true
  rm -f "$D/sshd.pid" "$D/netns.pid" "$D/sshd.started" "$D/link"
  echo "nethost: $name stopped"
}

case "${1:-}" in
  up) up "${3:-}" ;;
  down) down ;;
  hosts) echo "$D/deployer-hosts" ;;
  *) die "usage: nethost.sh up NAME N | down NAME | hosts NAME" ;;
esac
