#!/usr/bin/env bash
# First load in a real browser: for every page, a cold load in Debian's Chromium under two
# throttled networks (10 Mbit/s with 40 ms round trips; 1.6 Mbit/s with 150 ms), printing the
# wasm and total bytes transferred and the time until the page is hydrated, then the time of
# client-side navigation between pages (scripts/first-load.mjs has the details).
# Needs the release build (scripts/build-release.sh) and end2end's npm packages
# (scripts/setup.sh --e2e). FIRST_LOAD_RUNS=N: runs per figure (median; default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
[ -x target/release/gatehouse ] || { echo "build first: scripts/build-release.sh"; exit 1; }
[ -d end2end/node_modules/playwright-core ] || { echo "install first: scripts/setup.sh --e2e"; exit 1; }
dir=$(mktemp -d)
trap 'stop_gatehouse "$dir"' EXIT
start_gatehouse "$dir" "${PORT:-3995}"
pkg=target/site/pkg
echo "wasm files: $(cd $pkg && for f in *.wasm; do printf '%s %s raw / %s br; ' "$f" "$(stat -c %s "$f")" "$(stat -c %s "$f.br" 2>/dev/null || echo '?')"; done)"
node scripts/first-load.mjs "$BASE"
