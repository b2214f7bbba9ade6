#!/usr/bin/env bash
# What the release binary's memory is made of: its RSS idle after a few pages and after an API
# load (wrk, c64, GET /api/v1/me with a key), split into the program's own file (code and the
# embedded site), its own memory (heaps and stacks) and libraries; then the same under other
# allocator and runtime settings, so each setting's cost is a figure, not a guess. Code and read-only
# data are pages of the program's file: clean, shared with the page cache, and dropped by the
# kernel when memory is short; heaps and stacks are the process's own. SQLite allocates with
# the C library's malloc, Rust code with jemalloc.
#
#   scripts/measure-memory.sh                 # the default run and every variant
#   MEMORY_VARIANTS=default scripts/measure-memory.sh
#
# Needs a release build (scripts/build-release.sh), curl, python3, wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/gatehouse ] || { echo "build first: scripts/build-release.sh"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
port=${BENCH_PORT:-3207}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bin=$(realpath "${GATEHOUSE_BIN:-target/release/gatehouse}")
GATEHOUSE_PID=
trap '[ -n "$GATEHOUSE_PID" ] && kill "$GATEHOUSE_PID" 2>/dev/null; true' EXIT

# RSS of PID split by where it lives (from /proc/PID/smaps), and its threads by name.
breakdown() {
  python3 - "$1" "$bin" <<'EOF'
import collections, os, re, sys
pid, binary = sys.argv[1], sys.argv[2]
site = "read-only data (the embedded site among it)"
own = "its own memory (heaps, stacks)"
parts = {"code": 0, site: 0, own: 0, "libraries": 0}
where = None
for line in open(f"/proc/{pid}/smaps"):
    head = re.match(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$", line)
    if head:
        perms, name = head.groups()
        if name == binary:
            where = "code" if "x" in perms else site
        elif name.startswith("/"):
            where = "libraries"
        else:
            where = own
    elif line.startswith("Rss:"):
        parts[where] += int(line.split()[1])
threads = collections.Counter(open(f"/proc/{pid}/task/{t}/comm").read().strip()
                              for t in os.listdir(f"/proc/{pid}/task"))
print(f"RSS {sum(parts.values()) / 1024:5.1f} MB = "
      + ", ".join(f"{k} {v / 1024:.1f}" for k, v in parts.items())
      + "; threads: " + ", ".join(f"{n} {c}" for c, n in sorted((c, n) for n, c in threads.items())))
EOF
}

# measure LABEL [VAR=VALUE...]: one server with those environment variables.
measure() {
  local label=$1 dir
  shift
  dir=$(mktemp -d)
  env RUST_LOG=warn "$@" "$bin" --data-dir "$dir" --addr "127.0.0.1:$port" --api-rate-limit 0 \
    --drain-seconds 0 >"$dir/server.log" 2>&1 &
  GATEHOUSE_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
  sign_up_with_key "$dir" "org:read"
  for path in / /signin /signup /members /groups /settings /profile /pkg/gatehouse.wasm /pkg/gatehouse.js /pkg/gatehouse.css; do
    curl -fs -o /dev/null -b "$dir/cookies" "$BASE$path" || true
  done
  sleep 2
  echo "$label"
  printf '  idle after a few pages:  '; breakdown "$GATEHOUSE_PID"
  wrk -t2 -c64 -d10s -H "Authorization: Bearer $API_KEY" "$BASE/api/v1/me" >/dev/null
  sleep 2
  printf '  idle after the API load: '; breakdown "$GATEHOUSE_PID"
  kill -TERM "$GATEHOUSE_PID"
  wait "$GATEHOUSE_PID" 2>/dev/null || true
  rm -rf "$dir"
}

echo "aim: RSS idle < 25 MB, after the API load < 30 MB"
variants=${MEMORY_VARIANTS:-default jemalloc-one-arena jemalloc-no-decay glibc-one-arena one-worker}
for v in $variants; do
  case $v in
    default) measure "built-in settings" ;;
    jemalloc-one-arena) measure "jemalloc narenas:1 (one arena instead of 4 per core)" _RJEM_MALLOC_CONF=narenas:1 ;;
    jemalloc-no-decay) measure "jemalloc dirty_decay_ms:0,muzzy_decay_ms:0 (freed pages returned at once)" \
      _RJEM_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 ;;
    glibc-one-arena) measure "MALLOC_ARENA_MAX=1 (SQLite's allocations in one C-library arena)" MALLOC_ARENA_MAX=1 ;;
    one-worker) measure "TOKIO_WORKER_THREADS=1" TOKIO_WORKER_THREADS=1 ;;
    *) echo "unknown variant $v"; exit 1 ;;
  esac
done
