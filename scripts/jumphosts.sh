#!/usr/bin/env bash
# Jump-host harness: target hosts the deployer CANNOT reach, behind a bastion it can.
#
#   scripts/jumphosts.sh up      start (idempotent)
#   scripts/jumphosts.sh down    stop everything this script started
#   scripts/jumphosts.sh env     print the addresses
#
# A private network namespace (only its own loopback) holds three sshd targets on 127.0.0.21-23
# port 22, each with its own tmpfs /srv. From the deployer's namespace these addresses answer
# nothing. The bastion listens on 127.0.0.50:22 in the deployer's namespace and serves each
# connection with `sshd -i` running inside the private namespace (scripts/jump-inetd.py), so its
# direct-tcpip channels reach the targets. Keys, users and known_hosts are testhosts.sh's (run
# `scripts/testhosts.sh up` first).
set -euo pipefail
. "$(dirname "$0")/hostlib.sh"
close_inherited_fds

STATE=${SHIPIT_TESTHOSTS:-/tmp/shipit-testhosts}
J=$STATE/jump
USER_NAME=${SHIPIT_TEST_USER:-deploy}
SSHD=${SSHD:-/usr/sbin/sshd}
BASTION=127.0.0.50
TARGETS="127.0.0.21 127.0.0.22 127.0.0.23"
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "jumphosts: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -f "$STATE/keys/id_ed25519" ] || die "run scripts/testhosts.sh up first (keys, user)"

alive() { ours "$1" "${2:-sleep infinity}" >/dev/null; }


in_ns() { nsenter --net="/proc/$(cat "$J/netns.pid")/ns/net" "$@"; }

wait_ns_port() {
  local i
  for i in $(seq 1 100); do
    if in_ns bash -c "exec 3<>/dev/tcp/$1/22" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

up() {
  mkdir -p "$J" /run/sshd
  if ! alive "$J/netns.pid"; then
    setsid unshare --net sh -c 'ip link set lo up && exec sleep infinity' </dev/null >/dev/null 2>&1 &
    echo $! > "$J/netns.pid"
    sleep 0.2
    alive "$J/netns.pid" || die "could not create the private network namespace"
  fi
  local uid gid t
  uid=$(id -u "$USER_NAME"); gid=$(id -g "$USER_NAME")
  for t in $TARGETS; do
    mkdir -p "$J/$t"
    sshd_config "$J/$t/sshd_config" "$t:22" "$J/$t/host" "$J/$t/sshd.pid"
    known_host "$t" "$J/$t/host_ed25519_key.pub"
    alive "$J/$t/sshd.pid" "$J/$t/sshd_config" && continue
    setsid nsenter --net="/proc/$(cat "$J/netns.pid")/ns/net" unshare --mount --propagation private sh -c \
      "mount -t tmpfs -o size=128m,mode=0755,uid=$uid,gid=$gid tmpfs /srv && exec $SSHD -D -e -f '$J/$t/sshd_config'" \
      </dev/null >>"$J/$t/sshd.log" 2>&1 &
    echo $! > "$J/$t/sshd.pid"
  done
  for t in $TARGETS; do wait_ns_port "$t" || die "target sshd $t did not start (see $J/$t/sshd.log)"; done
  mkdir -p "$J/bastion"
  sshd_config "$J/bastion/sshd_config" "$BASTION:22" "$J/bastion/host" "$J/bastion/unused.pid"
  known_host "$BASTION" "$J/bastion/host_ed25519_key.pub"
  if ! alive "$J/bastion/inetd.pid" jump-inetd.py; then
    setsid python3 "$HERE/jump-inetd.py" "$BASTION" 22 "$(cat "$J/netns.pid")" "$SSHD" "$J/bastion/sshd_config" "$J/bastion/sshd.log" \
      </dev/null >>"$J/bastion/inetd.log" 2>&1 &
    echo $! > "$J/bastion/inetd.pid"
    local i
    for i in $(seq 1 100); do (exec 3<>"/dev/tcp/$BASTION/22") 2>/dev/null && break; sleep 0.05; done
  fi
  (exec 3<>"/dev/tcp/$BASTION/22") 2>/dev/null || die "bastion on $BASTION did not start (see $J/bastion/inetd.log)"
  echo "jumphosts: bastion $BASTION, targets $TARGETS (reachable only through the bastion)"
}

down() {
  [ -d "$J" ] || return 0
  local f
  for f in "$J"/bastion/inetd.pid "$J"/127.*/sshd.pid; do
    kill_ours "$f" "$J/"
    rm -f "$f"
  done
  # The sshd -i sessions the bastion started (their own sessions, in the private namespace).
  pkill -f "$J/bastion/sshd_config" 2>/dev/null || true
  kill_ours "$J/netns.pid" "sleep infinity"
  rm -f "$J/netns.pid"
  echo "jumphosts: stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "SHIPIT_JUMP_BASTION=$BASTION"; echo "SHIPIT_JUMP_TARGETS=${TARGETS// /,}" ;;
  *) die "usage: jumphosts.sh up|down|env" ;;
esac
