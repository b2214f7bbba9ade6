#!/usr/bin/env bash
# Measures the release build: time from start to healthy on a new SQLite file, idle RSS,
# and the wasm bundle (raw, gzip, brotli). Run scripts/build-release.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/target/release/gatehouse"
[ -x "$bin" ] || { echo "build first: scripts/build-release.sh"; exit 1; }
port=${PORT:-3990}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT

start=$(date +%s%N)
(cd "$dir" && exec "$bin" --addr "127.0.0.1:$port" >"$dir/log" 2>&1) &
pid=$!
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
ready=$(date +%s%N)
echo "start to healthy (new SQLite file, migrations included): $(( (ready - start) / 1000000 )) ms"

# A few pages first, so idle RSS includes what serving has allocated.
for path in / /signin /signup /pkg/gatehouse.wasm /pkg/gatehouse.js /pkg/gatehouse.css; do
  curl -fs -o /dev/null "http://127.0.0.1:$port$path" || true
done
sleep 1
pid_real=$(pgrep -f "$bin --addr 127.0.0.1:$port" | head -1)
echo "idle RSS after serving a few pages: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid_real/status)"

pkg=target/site/pkg
echo "wasm shell: $(stat -c %s $pkg/gatehouse.wasm) bytes raw, $(stat -c %s $pkg/gatehouse.wasm.gz) gzip, $(stat -c %s $pkg/gatehouse.wasm.br) brotli"
# A --split build: the pages' units (split_*.wasm) and the chunks they share (chunk_*.wasm).
sum() { cat "$@" 2>/dev/null | wc -c; }
echo "wasm, all $(ls $pkg/*.wasm | wc -l) files: $(sum $pkg/*.wasm) bytes raw, $(sum $pkg/*.wasm.gz) gzip, $(sum $pkg/*.wasm.br) brotli"
echo "js:   $(stat -c %s $pkg/gatehouse.js) bytes raw; css: $(stat -c %s $pkg/gatehouse.css) bytes raw"
echo "binary: $(stat -c %s "$bin") bytes"
