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

# known_host NAME PUBKEY_FILE: NAME's line in $STATE/known_hosts, replaced whole. Serialised: two
# tests starting hosts at once must not lose each other's entry.
known_host() {
  local key
  key=$(cut -d' ' -f1,2 "$2")
  (
    flock 9
    grep -v "^$1 " "$STATE/known_hosts" > "$STATE/known_hosts.tmp.$$" || true
    echo "$1 $key" >> "$STATE/known_hosts.tmp.$$"
    mv "$STATE/known_hosts.tmp.$$" "$STATE/known_hosts"
  ) 9>"$STATE/known_hosts.lock"
}
