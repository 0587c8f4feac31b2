#!/usr/bin/env bash
# `make bench`: release build, 50 local sshd hosts, shipit vs OpenSSH side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product shipit
swift build -c release --product shipit-bench
scripts/testhosts.sh up "${BENCH_HOSTS:-50}"
scripts/podman-setup.sh && scripts/registry.sh up && scripts/images.sh
scripts/pg.sh up
python3 bench/bench.py | tee bench/last-run.md
