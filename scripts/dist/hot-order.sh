#!/usr/bin/env bash
# Profiles which functions a deploy runs and writes their names, for `make dist` to lay them out
# together (lld --symbol-ordering-file). Resident memory is mostly code pages: the kernel maps a
# binary's code 64 KiB around each page first touched, so code a deploy runs, spread over the
# whole binary, made most of it resident. Laid out together, it occupies a few megabytes.
#
# Usage: scripts/dist/hot-order.sh   (after `make dist`, with `scripts/testhosts.sh up 3`)
# Runs the unstripped dist binary under valgrind's callgrind (it records every function that ran)
# through deploy, a failed deploy rolled back, rollback, changes, status, verify; writes
# scripts/dist/hot-functions.txt.gz. A stale list only costs memory, never correctness.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(mktemp /tmp/shipit-hot-bin.XXXXXX)
STATE=${SHIPIT_TESTHOSTS:-/tmp/shipit-testhosts}
OUT=scripts/dist/hot-functions.txt.gz
work=$(mktemp -d /tmp/shipit-hot.XXXXXX)
trap 'rm -rf "$work" "$BIN"' EXIT
# valgrind 3.19 cannot read the toolchain's DWARF 5: a copy with the symbol table only.
strip --strip-debug -o "$BIN" "${DIST_SCRATCH:-.build-dist}/release/shipit"
hosts=$(head -3 "$STATE/hosts.txt" | paste -sd, | sed 's/,/, /g')
cat > "$work/shipit.yml" <<CFG
app: hotorder
hosts: [$hosts]
ssh: {user: deploy, identity: $STATE/keys/id_ed25519, known_hosts: $STATE/known_hosts}
deploy_to: /srv/hotorder
keep_releases: 3
start: sh start.sh
health: {port: 18700, address: reached, deadline: 60, interval: 0.2}
hooks: /nonexistent
CFG
run() { valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" --dump-instr=no --demangle=no --compress-strings=no \
          --compress-pos=no "$BIN" "$@" > /dev/null 2>&1 || true; }
run deploy --config "$work/shipit.yml" --from releases-example/v1
run deploy --config "$work/shipit.yml" --from releases-example/v2
sed -i 's/deadline: 60/deadline: 3/' "$work/shipit.yml"
run deploy --config "$work/shipit.yml" --from releases-example/v3
run rollback --config "$work/shipit.yml"
run changes --config "$work/shipit.yml" --since 1h
run status --config "$work/shipit.yml"
run verify --config "$work/shipit.yml"
run --version
# Every function name with a cost line in any profile ("fn=NAME"), in first-seen order.
cat "$work"/cg.* | sed -n 's/^fn=//p' | awk '!seen[$0]++' | gzip -9n > "$OUT"
echo "hot-order: $(zcat "$OUT" | wc -l) functions in $OUT"
