#!/usr/bin/env bash
# Man pages for a built shipit: swift-argument-parser's own generator (the tool behind its
# GenerateManual plugin), built once in a small scratch directory of its own so that it never
# invalidates the release build. Usage: manual.sh SHIPIT OUTDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(readlink -f "$1")
out=$2
scratch=${TOOLS_SCRATCH:-.build-tools}
swift build --scratch-path "$scratch" --product generate-manual >/dev/null
mkdir -p "$out"
"$scratch/debug/generate-manual" "$bin" --multi-page --date "$(date -u +%Y-%m-%d)" --output-directory "$out"
