#!/usr/bin/env bash
# The installed binary, tried as a new user would (run by `make test` with the test hosts up):
# `make install PREFIX=<empty dir>`; the binary's size is bounded and nothing it loads comes from
# the Swift toolchain; then, with the toolchain hidden (a mount namespace with an empty tmpfs over
# it): --version, init + deploy --dry-run, check against the test hosts (passes; a changed host key
# and a read-only deploy_to fail with exit 3 and say what to do), a real deploy, changes, rollback;
# completions and man pages installed; `make uninstall` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=${SHIPIT_TESTHOSTS:-/tmp/shipit-testhosts}
mapfile -t HOSTS < "$state/hosts.txt"
H0=${HOSTS[0]}; H1=${HOSTS[1]:-${HOSTS[0]}}
KEY=$state/keys/id_ed25519
KH=$state/known_hosts
work=$(mktemp -d /tmp/shipit-install-test.XXXXXX)
prefix=$work/prefix
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
pass() { echo "test-install: ok: $*"; }

make install PREFIX="$prefix"
bin=$prefix/bin/shipit

for f in bin/shipit share/bash-completion/completions/shipit share/zsh/site-functions/_shipit \
         share/fish/vendor_completions.d/shipit.fish share/man/man1/shipit.1 share/man/man1/shipit.deploy.1 \
         share/man/man1/shipit.check.1 share/man/man1/shipit.init.1; do
  [ -s "$prefix/$f" ] || fail "$f not installed"
done
grep -q '^\.Dt SHIPIT.CHECK 1' "$prefix/share/man/man1/shipit.check.1" || fail "shipit.check.1 is not an mdoc page"
bash -c "source '$prefix/share/bash-completion/completions/shipit' && complete -p shipit" >/dev/null || fail "bash completion does not load"
pass "binary, completions and $(ls "$prefix/share/man/man1" | wc -l) man pages installed"

# The size goal: at most 25 MB (docs/install.md, "Size").
MAX_BYTES=${MAX_BYTES:-25000000}
size=$(stat -c %s "$bin")
[ "$size" -le "$MAX_BYTES" ] || fail "the binary is $size bytes, over $MAX_BYTES"
pass "binary size $((size / 1000000)).$(( (size / 100000) % 10 )) MB ($size bytes, at most $MAX_BYTES)"

toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
libs=$(ldd "$bin")
if grep -q "not found" <<<"$libs"; then fail "missing libraries: $libs"; fi
if grep -qF "$toolchain" <<<"$libs"; then fail "loads from the toolchain ($toolchain): $libs"; fi
if grep -q "libswift\|libFoundation\|libdispatch" <<<"$libs"; then fail "links Swift libraries dynamically: $libs"; fi
if grep -q "libyaml\|libpq" <<<"$libs"; then fail "needs libyaml or libpq at start: $libs"; fi
pass "ldd: only system libraries ($(awk '/=>/ {print $1}' <<<"$libs" | tr '\n' ' '))"

# Every command below runs with the toolchain directory replaced by an empty one.
hidden() {
  local ns=(-m); [ "$(id -u)" = 0 ] || ns=(-r -m)
  unshare "${ns[@]}" sh -c 'mount -t tmpfs none "$1" && shift && exec "$@"' sh "$toolchain" "$@"
}
hidden sh -c "[ -z \"\$(ls -A '$toolchain')\" ]" || fail "could not hide $toolchain"
version=$(hidden "$bin" --version) || fail "--version does not run without the toolchain"
pass "without the toolchain: $version"

# init in an empty directory, then a dry run validates what it wrote.
mkdir "$work/new" && cd "$work/new"
hidden "$bin" init --hosts a,b --deploy-to /srv/app >/dev/null || fail "init"
hidden "$bin" deploy --dry-run > plan.txt || fail "deploy --dry-run on the generated config"
grep -q '^## b$' plan.txt || fail "the plan does not cover host b"
pass "init + deploy --dry-run"

# check against the test hosts.
mkdir "$work/real" && cd "$work/real"
dt=/srv/install-$$
hidden "$bin" init --hosts "$(IFS=,; echo "${HOSTS[*]}")" --deploy-to "$dt" --user deploy >/dev/null
conn=(--identity "$KEY" --known-hosts "$KH")
hidden "$bin" check "${conn[@]}" > check.txt || { cat check.txt; fail "check on the test hosts"; }
grep -q "ready to deploy" check.txt || fail "check did not say ready"
pass "check passes on ${#HOSTS[@]} test hosts"

# A changed host key: exit 3, and what to do.
ssh-keygen -q -t ed25519 -N '' -f "$work/otherkey"
# (known_hosts is hashed, as ssh writes it: ssh-keygen -R finds the host's entry.)
cp "$KH" "$work/known_hosts" && ssh-keygen -q -R "$H1" -f "$work/known_hosts" >/dev/null 2>&1
echo "$H1 $(cut -d' ' -f1,2 "$work/otherkey.pub")" >> "$work/known_hosts"
set +e; hidden "$bin" check --identity "$KEY" --known-hosts "$work/known_hosts" > changed.txt; rc=$?; set -e
[ "$rc" = 3 ] || { cat changed.txt; fail "a changed host key: exit $rc, expected 3"; }
grep -q "does NOT match" changed.txt && grep -q "ssh-keygen -R $H1" changed.txt || { cat changed.txt; fail "changed key: no advice"; }
pass "a changed host key fails with exit 3 and says what to do"

# A read-only deploy_to: exit 3, and what to do.
hidden "$bin" exec --hosts "$H0" --user deploy "${conn[@]}" -- "mkdir -p $dt && chmod 555 $dt" >/dev/null
set +e; hidden "$bin" check "${conn[@]}" > ro.txt; rc=$?; set -e
hidden "$bin" exec --hosts "$H0" --user deploy "${conn[@]}" -- "chmod 755 $dt && rmdir $dt" >/dev/null
[ "$rc" = 3 ] || { cat ro.txt; fail "a read-only deploy_to: exit $rc, expected 3"; }
grep -q "is not writable by deploy" ro.txt && grep -q "sudo chown -R deploy $dt" ro.txt || { cat ro.txt; fail "read-only: no advice"; }
pass "a read-only deploy_to fails with exit 3 and says what to do"

# A real deploy (in the example's two rollout steps, its http gate reading /metrics.json), the
# ledger and a rollback with the installed binary.
port=$((18000 + $$ % 1000))
sed -e "s|^deploy_to: .*|deploy_to: $dt|" -e "s|^  port: 8080|  port: $port|" -e "s|:8080/|:$port/|" -e "s|^hooks: .*|hooks: $root/hooks|" \
    -e "s|^  proxy: nginx|  proxy: none|" -e "s|^app: demo|app: installed|" "$root/releases-example/shipit.yml" > shipit.yml
sed -i '/^traffic:/,/^  drain:/d' shipit.yml
# The example's worker host (127.0.0.14) is the demo's fourth host: not up here.
sed -i -e '/roles: \[worker\]/d' -e '/^roles:/,/^    stop_timeout:/d' shipit.yml
hidden "$bin" deploy --from "$root/releases-example/v1" > d1.txt || { cat d1.txt; fail "deploy v1"; }
hidden "$bin" deploy --from "$root/releases-example/v2" > d2.txt || { cat d2.txt; fail "deploy v2"; }
hidden "$bin" changes --since 1h > changes.txt || fail "changes"
grep -q "deploy" changes.txt || { cat changes.txt; fail "changes shows no deploy"; }
hidden "$bin" status --json > status.json || { cat status.json; fail "status"; }
python3 -c 'import json,sys; json.load(open("status.json"))' || fail "status --json is not JSON"
hidden "$bin" rollback > rb.txt || { cat rb.txt; fail "rollback"; }
hidden "$bin" exec --hosts "$(IFS=,; echo "${HOSTS[*]}")" --user deploy "${conn[@]}" -- \
  "p=\$(cat $dt/shared/app.pid 2>/dev/null) && kill \$p; rm -rf $dt" >/dev/null || true
pass "deploy, deploy, changes, status --json, rollback with the installed binary"

cd "$root"
make uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f | wc -l)
[ "$left" = 0 ] || fail "uninstall left $left files: $(find "$prefix" -type f)"
pass "make uninstall removed every file"
rm -rf "$work"
echo "test-install: all passed"
