#!/usr/bin/env bash
# Audit export at scale: an organization with 1,000,000 audit events (BENCH_EVENTS) exported
# whole as CSV and JSON Lines through the REST API, on SQLite and (with BENCH_POSTGRES_URL)
# PostgreSQL. Prints the time, the size, the lines received (every event must arrive: an export
# cut by the request deadline would show here) and the server's resident memory before and at
# its peak during the export (sampled every 50 ms from /proc).
#
#   scripts/bench-export.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/gatehouse ] || { echo "build first: scripts/build-release.sh"; exit 1; }
port=${BENCH_PORT:-3203}
events=${BENCH_EVENTS:-1000000}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

seed_sql() {
  local series=$1 cte=${2:-}
  cat <<SQL
$cte INSERT INTO audit_events (org_id, actor_user_id, action, target, ip, details, created_at)
SELECT \$ORG, \$USER, CASE WHEN i % 2 = 0 THEN 'member.role_changed' ELSE 'group.updated' END,
       'user:' || i, '192.0.2.1', '{"from":"user","to":"admin"}', 1790000000 + i FROM $series;
ANALYZE;
SQL
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

export_once() {
  local accept=$1 out=$2 peak_file=$3
  local before peak=0
  before=$(rss_kb "$GATEHOUSE_PID")
  (
    while kill -0 "$GATEHOUSE_PID" 2>/dev/null; do
      rss=$(rss_kb "$GATEHOUSE_PID"); [ "$rss" -gt "$peak" ] && peak=$rss && echo "$peak" >"$peak_file"
      sleep 0.05
    done
  ) &
  local sampler=$!
  local seconds
  seconds=$(curl -fsS -o "$out" -w '%{time_total}' -H "Authorization: Bearer $API_KEY" \
    -H "Accept: $accept" "$BASE/api/v1/audit-events")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  printf '  %-22s %6.2f s  %7.1f MB  %8d lines  RSS %d MB before, %d MB peak\n' "$accept" \
    "$seconds" "$(echo "$(stat -c %s "$out") / 1048576" | bc -l)" "$(wc -l <"$out")" \
    $((before / 1024)) $(($(cat "$peak_file" 2>/dev/null || echo 0) / 1024))
}

bench_backend() {
  local label=$1 database_url=$2 dir user
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "audit:read"
  echo "$label: seeding $events audit events…"
  if [ -z "$database_url" ]; then
    user=$(sqlite3 "$dir/gatehouse.db" "SELECT id FROM users LIMIT 1")
    seed_sql n "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $events)" \
      | sed "s/\\\$ORG/$ORG_ID/; s/\\\$USER/$user/" | sqlite3 "$dir/gatehouse.db"
  else
    user=$(psql -Atq "$database_url" -c "SELECT id FROM users LIMIT 1")
    seed_sql "generate_series(1, $events) AS i" \
      | sed "s/\\\$ORG/$ORG_ID/; s/\\\$USER/$user/" | psql -q "$database_url" >/dev/null
  fi
  export_once text/csv "$dir/export.csv" "$dir/peak"
  rm -f "$dir/peak"
  export_once application/x-ndjson "$dir/export.jsonl" "$dir/peak"
  stop_gatehouse "$dir"
}

bench_backend SQLite ""
on_postgres PostgreSQL bench_backend
