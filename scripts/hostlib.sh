# Shared by testhosts.sh and jumphosts.sh (sourced, not run).

# Close every descriptor inherited above stderr: the daemons started here (sshd, the namespace
# holder) live on, and must not keep a caller's pipe open (a test reading one to EOF would hang).
close_inherited_fds() {
  local fd
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

# host_keys PREFIX: a stock Debian sshd's three host keys, PREFIX_{ed25519,ecdsa,rsa}_key, and the
# sshd_config lines that serve them. ed25519 and ECDSA keys are the host's own; the RSA key is one
# for every test host (generating 3072-bit RSA keys for 200 hosts would take minutes).
host_keys() {
  local t
  for t in ed25519 ecdsa; do
    [ -f "$1_${t}_key" ] || ssh-keygen -q -t "$t" -N '' -C "host-$t" -f "$1_${t}_key"
  done
  (
    flock 9
    [ -f "$STATE/keys/host_rsa_key" ] || ssh-keygen -q -t rsa -b 3072 -N '' -C "host-rsa" -f "$STATE/keys/host_rsa_key"
  ) 9>"$STATE/keys/host_rsa_key.lock"
  [ -f "$1_rsa_key" ] || cp "$STATE/keys/host_rsa_key" "$1_rsa_key"
  [ -f "$1_rsa_key.pub" ] || cp "$STATE/keys/host_rsa_key.pub" "$1_rsa_key.pub"
  chmod 600 "$1_rsa_key"
  for t in ed25519 ecdsa rsa; do echo "HostKey $1_${t}_key"; done
}

# known_host NAME PUBKEY_FILE: NAME's entry in $STATE/known_hosts as `ssh` writes it on a first
# connection to a stock sshd: the ed25519 key it negotiates, the name hashed (Debian's ssh_config
# sets HashKnownHosts yes). An earlier entry for NAME, of any type, is removed. Serialised: two
# tests starting hosts at once must not lose each other's entry.
known_host() {
  local key tmp="$STATE/known_hosts.new.$$"
  key=$(cut -d' ' -f1,2 "$2")
  (
    flock 9
    touch "$STATE/known_hosts"
    ssh-keygen -q -R "$1" -f "$STATE/known_hosts" >/dev/null 2>&1 || true
    rm -f "$STATE/known_hosts.old"
    echo "$1 $key" > "$tmp"
    ssh-keygen -q -H -f "$tmp" >/dev/null 2>&1
    cat "$tmp" >> "$STATE/known_hosts"
    rm -f "$tmp" "$tmp.old"
  ) 9>"$STATE/known_hosts.lock"
}

# sshd_config FILE LISTEN KEYPREFIX PIDFILE: a test host's sshd config (the three host keys,
# the harness's authorized keys, no passwords, no PAM), for hosts that need no options.
sshd_config() {  # FILE LISTEN KEYPREFIX PIDFILE
  local hostkeys
  hostkeys=$(host_keys "$3")
  cat > "$1" <<CFG
ListenAddress $2
$hostkeys
PidFile $4
AuthorizedKeysFile $STATE/authorized_keys/%u
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 100
MaxStartups 500
AllowTcpForwarding yes
PubkeyAcceptedAlgorithms +ssh-rsa
UseDNS no
PrintMotd no
LogLevel ERROR
Subsystem sftp internal-sftp
CFG
}

# ours PIDFILE WORD: the pid PIDFILE names, printed, if that process's command line still contains
# WORD. A pid file outlives its process, and on a busy machine the pid soon names another one (a
# test's own shipit run): nothing is signalled on a pid file's word alone.
ours() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}

# kill_ours PIDFILE WORD: SIGTERM to that process if it is still ours.
kill_ours() {
  local pid
  pid=$(ours "$1" "$2") || return 0
  kill "$pid" 2>/dev/null || true
}
