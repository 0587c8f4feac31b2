#!/usr/bin/env bash
# `make bench`: the binary users install (`make dist`), 50 local sshd hosts, shipit vs OpenSSH and
# Capistrano side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dist.sh
swift build -c release --product shipit-bench
export SHIPIT=${SHIPIT:-$PWD/dist/shipit}
scripts/testhosts.sh up "${BENCH_HOSTS:-50}"
scripts/podman-setup.sh && scripts/registry.sh up && scripts/images.sh
scripts/pg.sh up
python3 bench/bench.py | tee bench/last-run.md
