#!/usr/bin/env bash
# Test-host harness: N real sshd "hosts" on 127.0.0.11, 127.0.0.12, … port 22, each with a private tmpfs
# /srv (its own mount namespace), logging in as the non-root user `deploy`. Like a stock Debian sshd,
# each offers ed25519, ECDSA and RSA host keys; known_hosts holds what `ssh` records (hashed ed25519).
#
#   scripts/testhosts.sh up [N]          start hosts 1..N that are not running (default 3)
#   scripts/testhosts.sh down            stop every host this harness started (by pid, nothing else)
#   scripts/testhosts.sh stop-host ADDR  stop one host (a dead host for fault tests)
#   scripts/testhosts.sh start-host ADDR start one host again (its /srv starts empty); with
#                                        SHIPIT_HOST_OPTS="nosftp default-maxstartups debug ed25519-only":
#                                        a hardened host without the sftp subsystem, sshd's default
#                                        MaxStartups 10:30:100 (drops connections under a burst),
#                                        LogLevel DEBUG1, a host that offers its ed25519 key alone
#   scripts/testhosts.sh kill-host ADDR  SIGKILL every sshd of one host (listener and open sessions):
#                                        the host drops off the network mid-step; its /srv and apps stay
#   scripts/testhosts.sh revive-host ADDR start sshd again on a killed host, same /srv (same namespace)
#   scripts/testhosts.sh srv ADDR        print the path under which the host's /srv is visible here
#   scripts/testhosts.sh status          list hosts and whether they run
#   scripts/testhosts.sh env             print the variables tests and the demo read
#
# State lives in $SHIPIT_TESTHOSTS (default /tmp/shipit-testhosts): keys, known_hosts, per-host config.
set -euo pipefail

. "$(dirname "$0")/hostlib.sh"
close_inherited_fds

STATE=${SHIPIT_TESTHOSTS:-/tmp/shipit-testhosts}
USER_NAME=${SHIPIT_TEST_USER:-deploy}
SRV_SIZE=${SHIPIT_SRV_SIZE:-256m}
SSHD=${SSHD:-/usr/sbin/sshd}

die() { echo "testhosts: $*" >&2; exit 1; }
addr_of() { echo "127.0.0.$((10 + $1))"; }

[ "$(id -u)" = 0 ] || die "must run as root (it creates the '$USER_NAME' user, mount namespaces and sshd processes)"

ensure_user() {
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd -m -s /bin/bash "$USER_NAME"
  fi
  # sshd without PAM refuses a *locked* account ('!' in shadow); '*' means "no password, not locked".
  usermod -p '*' "$USER_NAME"
}

ensure_keys() {
  mkdir -p "$STATE/keys" "$STATE/authorized_keys" "$STATE/hosts"
  chmod 755 "$STATE" "$STATE/authorized_keys"
  chmod 700 "$STATE/keys"
  [ -f "$STATE/keys/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "shipit-test-deployer" -f "$STATE/keys/id_ed25519"
  [ -f "$STATE/keys/id_rsa" ] || ssh-keygen -q -t rsa -b 3072 -N '' -C "shipit-test-rsa" -f "$STATE/keys/id_rsa"
  [ -f "$STATE/keys/id_ed25519_pass" ] || ssh-keygen -q -t ed25519 -N 'correct horse' -C "shipit-test-passphrase" -f "$STATE/keys/id_ed25519_pass"
  [ -f "$STATE/keys/root_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "shipit-test-root" -f "$STATE/keys/root_ed25519"
  # sshd reads authorized keys as the target user, so each file is readable by its owner.
  # Replaced atomically (tmp + mv): running sshds read these files on every login, also while a
  # test starts a host of its own.
  cat "$STATE/keys/id_ed25519.pub" "$STATE/keys/id_rsa.pub" "$STATE/keys/id_ed25519_pass.pub" > "$STATE/authorized_keys/.$USER_NAME.$$"
  chmod 0644 "$STATE/authorized_keys/.$USER_NAME.$$"
  mv -f "$STATE/authorized_keys/.$USER_NAME.$$" "$STATE/authorized_keys/$USER_NAME"
  install -m 0644 "$STATE/keys/root_ed25519.pub" "$STATE/authorized_keys/.root.$$"
  mv -f "$STATE/authorized_keys/.root.$$" "$STATE/authorized_keys/root"
  touch "$STATE/known_hosts"
}

host_dir() { echo "$STATE/hosts/$1"; }

write_config() {
  local addr=$1 dir hostkeys opts=" ${SHIPIT_HOST_OPTS:-} " sftp="Subsystem sftp internal-sftp" startups="MaxStartups 500" loglevel=ERROR
  case "$opts" in *" nosftp "*) sftp="# no sftp subsystem (a hardened host)" ;; esac
  # (logged at INFO, so a test can see that sshd did drop connections: "past MaxStartups")
  case "$opts" in *" default-maxstartups "*) startups="# MaxStartups: sshd's default 10:30:100"; loglevel=INFO ;; esac
  # (DEBUG1 logs every channel request: a test counts the exec channels a deploy opens)
  case "$opts" in *" debug "*) loglevel=DEBUG1 ;; esac
  dir=$(host_dir "$addr")
  mkdir -p "$dir"
  hostkeys=$(host_keys "$dir/ssh_host")
  case "$opts" in *" ed25519-only "*) hostkeys="HostKey $dir/ssh_host_ed25519_key" ;; esac
  cat > "$dir/sshd_config" <<CFG
ListenAddress $addr:22
$hostkeys
PidFile $dir/sshd.pid
AuthorizedKeysFile $STATE/authorized_keys/%u
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxSessions 100
$startups
AllowTcpForwarding yes
# libssh2 1.10 (Debian 12) signs RSA user auth with SHA-1 only ("ssh-rsa"), which OpenSSH >= 8.8
# refuses by default; the test hosts accept it so RSA keys are covered. ed25519 needs nothing.
PubkeyAcceptedAlgorithms +ssh-rsa
UseDNS no
PrintMotd no
LogLevel $loglevel
$sftp
CFG
}

record_known_host() { known_host "$1" "$(host_dir "$1")/ssh_host_ed25519_key.pub"; }

is_running() {
  local pidfile
  pidfile="$(host_dir "$1")/sshd.pid"
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  # Only a process started with *our* config counts: never act on a recycled pid.
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$(host_dir "$1")/sshd_config"
}

wait_port() {
  local addr=$1 i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/$addr/22") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

start_host() {
  local addr=$1 dir uid gid
  dir=$(host_dir "$addr")
  is_running "$addr" && return 0
  mkdir -p /run/sshd
  uid=$(id -u "$USER_NAME"); gid=$(id -g "$USER_NAME")
  rm -f "$dir/sshd.pid"
  # A private mount namespace gives the host its own /srv; its small size doubles as the disk-full fault.
  # A `sleep` holds the namespace (and so the host's disk) while sshd is killed and revived.
  stop_holder "$addr"
  setsid unshare --mount --propagation private sh -c \
    "mount -t tmpfs -o size=$SRV_SIZE,mode=0755,uid=$uid,gid=$gid tmpfs /srv && { sleep infinity & echo \$! > '$dir/holder.pid'; } && exec $SSHD -D -e -f '$dir/sshd_config'" \
    </dev/null >>"$dir/sshd.log" 2>&1 &
  echo $! > "$dir/sshd.pid"
  wait_port "$addr" || die "sshd on $addr did not start (see $dir/sshd.log)"
}

holder_pid() {
  local f pid
  f="$(host_dir "$1")/holder.pid"
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = sleep ] && echo "$pid"
}

stop_holder() {
  local pid
  pid=$(holder_pid "$1") && kill "$pid" 2>/dev/null
  rm -f "$(host_dir "$1")/holder.pid"
}

# The listener and every sshd below it (one or two per open session), by parent pid: a session's
# sshd is not dumpable, so its namespace cannot always be read, but its parent always can.
# The sessions' own commands (a parked start script, say) are left running, as on a real host.
sshd_tree() {
  ps -e -o pid=,ppid=,comm= | awk -v root="$1" '
    { parent[$1] = $2; comm[$1] = $3 }
    END {
      for (p in parent) {
        q = p
        while (q != "" && q != root && q > 1) q = parent[q]
        if (q == root && comm[p] == "sshd") print p
      }
    }'
}

kill_host() {
  local addr=$1 listener pids killed="" i
  listener=$(cat "$(host_dir "$addr")/sshd.pid" 2>/dev/null || true)
  [ -n "$listener" ] && [ -e "/proc/$listener" ] || die "$addr has no running sshd"
  kill -STOP "$listener" 2>/dev/null || true  # no new sessions while the tree is collected
  for i in 1 2 3; do
    pids=$(sshd_tree "$listener")
    [ -n "$pids" ] || break
    kill -9 $pids 2>/dev/null || true
    killed="$killed $pids"
  done
  kill -9 "$listener" 2>/dev/null || true
  rm -f "$(host_dir "$addr")/sshd.pid"
  if (exec 3<>"/dev/tcp/$addr/22") 2>/dev/null; then die "$addr:22 still accepts connections after killing$killed"; fi
  echo "killed sshd of $addr:${killed:- listener only}"
}

revive_host() {
  local addr=$1 dir holder
  dir=$(host_dir "$addr")
  is_running "$addr" && return 0
  holder=$(holder_pid "$addr") || die "$addr has no running namespace (start-host first)"
  setsid nsenter --mount="/proc/$holder/ns/mnt" $SSHD -D -e -f "$dir/sshd_config" </dev/null >>"$dir/sshd.log" 2>&1 &
  echo $! > "$dir/sshd.pid"
  wait_port "$addr" || die "sshd on $addr did not start again (see $dir/sshd.log)"
}

stop_host() {
  local addr=$1 pidfile pid
  pidfile="$(host_dir "$addr")/sshd.pid"
  if is_running "$addr"; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    # Checked by its command line each time: once sshd is gone its pid may name another process.
    for _ in $(seq 1 50); do is_running "$addr" || break; sleep 0.05; done
    if is_running "$addr"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
  stop_holder "$addr"
}

all_addrs() { ls "$STATE/hosts" 2>/dev/null | sort -t. -k4 -n; }

cmd=${1:-status}
case "$cmd" in
  up)
    n=${2:-3}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "N must be 1..200"
    ensure_user; ensure_keys
    # Keys and known_hosts first, one at a time; then the sshds start in parallel.
    for i in $(seq 1 "$n"); do write_config "$(addr_of "$i")"; record_known_host "$(addr_of "$i")"; done
    for i in $(seq 1 "$n"); do start_host "$(addr_of "$i")" & done
    wait
    for i in $(seq 1 "$n"); do is_running "$(addr_of "$i")" || die "host $(addr_of "$i") is not running"; done
    seq 1 "$n" | while read -r i; do addr_of "$i"; done > "$STATE/hosts.txt"
    echo "testhosts: $n host(s) up ($(head -1 "$STATE/hosts.txt") … $(tail -1 "$STATE/hosts.txt")), user $USER_NAME, state in $STATE"
    ;;
  down)
    for addr in $(all_addrs); do stop_host "$addr"; done
    # Apps the tests and the demo started as the harness's own user (daemons outlive sshd): a
    # stale app still bound to a port would answer the next run's smoke test.
    pkill -u "$USER_NAME" 2>/dev/null || true
    echo "testhosts: all hosts stopped"
    ;;
  stop-host) [ -n "${2:-}" ] || die "usage: stop-host ADDR"; stop_host "$2" ;;
  start-host)
    [ -n "${2:-}" ] || die "usage: start-host ADDR"
    ensure_keys; write_config "$2"; record_known_host "$2"; start_host "$2" ;;
  kill-host) [ -n "${2:-}" ] || die "usage: kill-host ADDR"; kill_host "$2" ;;
  revive-host) [ -n "${2:-}" ] || die "usage: revive-host ADDR"; revive_host "$2" ;;
  srv)
    [ -n "${2:-}" ] || die "usage: srv ADDR"
    holder=$(holder_pid "$2") || die "$2 has no running namespace"
    echo "/proc/$holder/root/srv" ;;
  status)
    for addr in $(all_addrs); do
      if is_running "$addr"; then echo "$addr up (pid $(cat "$(host_dir "$addr")/sshd.pid"))"; else echo "$addr down"; fi
    done
    ;;
  env)
    echo "export SHIPIT_TESTHOSTS=$STATE"
    echo "export SHIPIT_TEST_USER=$USER_NAME"
    echo "export SHIPIT_TEST_IDENTITY=$STATE/keys/id_ed25519"
    echo "export SHIPIT_TEST_KNOWN_HOSTS=$STATE/known_hosts"
    echo "export SHIPIT_TEST_HOSTS=$(paste -sd, "$STATE/hosts.txt" 2>/dev/null)"
    ;;
  *) die "unknown command '$cmd' (up|down|stop-host|start-host|kill-host|revive-host|srv|status|env)" ;;
esac
