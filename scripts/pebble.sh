#!/usr/bin/env bash
# An offline ACME CA for the front door's tests: Let's Encrypt's test CA (Debian's `pebble`) and
# its DNS server (`pebble-challtestsrv`), whose answers a test sets (point a.test at a host).
#
#   scripts/pebble.sh up DIR HTTP_PORT   start both, state in DIR: pebble's directory at
#                                        https://127.0.0.1:14000/dir (its TLS CA in DIR/tls-ca.pem),
#                                        HTTP-01 validated on HTTP_PORT of whatever the name resolves to
#   scripts/pebble.sh point NAME ADDR    NAME resolves to ADDR (an A record)
#   scripts/pebble.sh roots DIR          the CA that signs the certificates it issues, into DIR/roots.pem
#   scripts/pebble.sh down DIR           stop both
# No sleep between validation attempts (PEBBLE_VA_NOSLEEP), and no nonce rejections
# (PEBBLE_WFE_NONCEREJECT=0): a test measures shipit, not pebble's chaos.
set -euo pipefail
DNS=127.0.0.1:8053
MGMT=127.0.0.1:8055
die() { echo "pebble.sh: $*" >&2; exit 1; }
. "$(dirname "$0")/hostlib.sh"

wait_port() {  # HOST PORT: until something listens (10 s)
  local i=0
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    i=$((i + 1)); [ "$i" -lt 100 ] || return 1; sleep 0.1
  done
}

cmd=${1:-}
case "$cmd" in
  up)
    dir=${2:?DIR}; port=${3:?HTTP_PORT}
    command -v pebble >/dev/null || die "pebble is not installed (scripts/install-deps.sh installs it)"
    mkdir -p "$dir"
    "$0" down "$dir" >/dev/null 2>&1 || true
    ! (exec 3<>/dev/tcp/127.0.0.1/14000) 2>/dev/null || die "port 14000 is taken (a pebble of another state dir? scripts/pebble.sh down DIR)"
    # pebble's own HTTPS: a throwaway CA and a certificate for 127.0.0.1 and localhost.
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/tls-ca.key" -out "$dir/tls-ca.pem" -days 2 \
      -subj "/CN=pebble test TLS CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$dir/tls.key" -out "$dir/tls.csr" -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$dir/tls.ext"
    openssl x509 -req -in "$dir/tls.csr" -CA "$dir/tls-ca.pem" -CAkey "$dir/tls-ca.key" -CAcreateserial \
      -out "$dir/tls.pem" -days 2 -extfile "$dir/tls.ext" 2>/dev/null
    cat > "$dir/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$dir/tls.pem", "privateKey": "$dir/tls.key", "httpPort": $port, "tlsPort": 5001,
  "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
    setsid pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "$DNS" -management "$MGMT" \
      -http01 "" -https01 "" -tlsalpn01 "" >"$dir/challtestsrv.log" 2>&1 </dev/null &
    echo $! > "$dir/challtestsrv.pid"
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 setsid pebble -config "$dir/pebble.json" -dnsserver "$DNS" \
      >"$dir/pebble.log" 2>&1 </dev/null &
    echo $! > "$dir/pebble.pid"
    wait_port 127.0.0.1 8055 || die "pebble-challtestsrv did not start (see $dir/challtestsrv.log)"
    wait_port 127.0.0.1 14000 && wait_port 127.0.0.1 15000 || die "pebble did not start (see $dir/pebble.log)"
    echo "pebble: up, directory https://127.0.0.1:14000/dir (TLS CA $dir/tls-ca.pem), HTTP-01 on port $port"
    ;;
  point)
    name=${2:?NAME}; addr=${3:?ADDR}
    curl -sf -X POST -d "{\"host\":\"$name.\"}" "http://$MGMT/clear-a" >/dev/null || true
    curl -sf -X POST -d "{\"host\":\"$name.\",\"addresses\":[\"$addr\"]}" "http://$MGMT/add-a" >/dev/null ||
      die "challtestsrv did not take $name → $addr"
    ;;
  roots)
    dir=${2:?DIR}
    curl -sf --cacert "$dir/tls-ca.pem" https://127.0.0.1:15000/roots/0 > "$dir/roots.pem" || die "no root from pebble"
    ;;
  down)
    dir=${2:?DIR}
    for p in pebble challtestsrv; do
      kill_ours "$dir/$p.pid" "$p"
      rm -f "$dir/$p.pid"
    done
    ;;
  *) die "usage: pebble.sh up DIR HTTP_PORT | point NAME ADDR | roots DIR | down DIR" ;;
esac
