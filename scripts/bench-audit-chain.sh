#!/usr/bin/env bash
# What the audit log's hash chain costs a write, and what verifying it costs: wrk POSTs new
# groups (each one change and its audited, chained event) into one organization, 8 at a time,
# on SQLite and (with BENCH_POSTGRES_URL) PostgreSQL; then `gatehouse admin audit verify`
# walks the organization's chain. Run it with GATEHOUSE_BIN set to an older build to compare.
#
#   scripts/bench-audit-chain.sh
#   GATEHOUSE_BIN=/path/to/older/gatehouse BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-audit-chain.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${GATEHOUSE_BIN:-target/release/gatehouse}
[ -x "$bin" ] || { echo "build first: scripts/build-release.sh"; exit 1; }
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 \
  || { echo "could not install wrk (apt-get install wrk)"; exit 1; }
duration=${BENCH_DURATION:-10s}
port=${BENCH_PORT:-3210}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

bench_backend() {
  local label=$1 database_url=$2 dir lua
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "groups:write audit:read"
  lua="$dir/post.lua"
  cat >"$lua" <<LUA
local n = 0
-- Each thread's own prefix (a table's address): wrk seeds every thread's random alike.
local id = tostring({}):gsub("table: ", "")
request = function()
  n = n + 1
  -- wrk.format sends only the headers given here (not wrk's -H ones).
  return wrk.format("POST", "/api/v1/groups",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $API_KEY"},
    '{"name":"g-' .. id .. '-' .. n .. '","scans_limit":1}')
end
LUA
  local out rps p50 p99 errors
  out=$(wrk -t2 -c8 -d"$duration" --latency -s "$lua" "$BASE")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '%-9s POST /groups c=8 %9s writes/s   p50 %-8s p99 %-8s%s\n' \
    "$label" "$rps" "$p50" "$p99" "${errors:+   non-2xx: $errors}"
  if "$bin" admin audit --help >/dev/null 2>&1; then
    local args=(--data-dir "$dir") started took line
    [ -n "$database_url" ] && args+=(--database-url "$database_url")
    started=$(date +%s.%N)
    line=$(RUST_LOG=warn "$bin" admin audit verify --org "$ORG_ID" "${args[@]}")
    took=$(python3 -c "import time; print(f'{(time.time() - $started) * 1000:.0f}')")
    printf '%-9s audit verify: %s (%s ms)\n' "$label" "$line" "$took"
    # An upgrade from before the chain: every event unchained, then a start chains them all.
    kill "$GATEHOUSE_PID"; wait "$GATEHOUSE_PID" 2>/dev/null || true
    local reset="UPDATE audit_events SET seq = NULL, hash = NULL; DELETE FROM audit_chains;"
    local count="SELECT COUNT(*) FROM audit_events" events
    if [ -z "$database_url" ]; then
      events=$(sqlite3 "$dir/gatehouse.db" "$count"); sqlite3 "$dir/gatehouse.db" "$reset"
    else
      events=$(psql -qtA "$database_url" -c "$count"); psql -q "$database_url" -c "$reset" >/dev/null
    fi
    started=$(date +%s.%N)
    start_gatehouse "$dir" "$port" "$database_url"
    took=$(python3 -c "import time; print(f'{(time.time() - $started) * 1000:.0f}')")
    printf '%-9s start after an upgrade, chaining all %s events: %s ms\n' "$label" "$events" "$took"
  fi
  stop_gatehouse "$dir"
}

bench_backend sqlite ""
on_postgres postgres bench_backend
