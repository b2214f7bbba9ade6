#!/usr/bin/env bash
# Claims per second: many simulated runners (`gatehouse runner --simulate`, scans that take
# no time) claim and finish queued scans of one group through the REST API, on SQLite and
# (when a server is given) PostgreSQL. Each scan is two requests: claim, then finish.
#
#   scripts/bench-claims.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-claims.sh
#   BENCH_SCANS=50000 scripts/bench-claims.sh     # default 10000 queued scans per run
#
# Needs a release build (scripts/build-release.sh), curl, python3, sqlite3 (psql for
# PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/gatehouse
[ -x "$bin" ] || { echo "build first: scripts/build-release.sh"; exit 1; }
for tool in curl python3 sqlite3; do
  command -v "$tool" >/dev/null || { echo "needs $tool"; exit 1; }
done
scans=${BENCH_SCANS:-10000}
port=${BENCH_PORT:-3201}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

bench_backend() {
  local label=$1 database_url=$2
  local dir
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "scans:write"
  local post=(curl -fs -c "$dir/cookies" -b "$dir/cookies")
  "${post[@]}" --data-urlencode "org_id=$ORG_ID" --data-urlencode "plan=enterprise" \
    --data-urlencode "seats=10" --data-urlencode "billing_email=" "$BASE/api/billing/update" >/dev/null
  local group
  group=$("${post[@]}" --data-urlencode "org_id=$ORG_ID" --data-urlencode "name=Bench" \
    --data-urlencode "scans_limit=1000" "$BASE/api/groups/create")
  for runners in 16 64; do
    local seed="INSERT INTO scans (org_id, group_id, target, status, created_at)
      SELECT $ORG_ID, $group, 'https://host' || i || '.example.com', 'queued', 0 FROM"
    if [ -z "$database_url" ]; then
      printf 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)\n%s n;\n' \
        "$scans" "$seed" | sqlite3 "$dir/gatehouse.db"
    else
      echo "$seed generate_series(1, $scans) AS i;" | psql -q "$database_url" >/dev/null
    fi
    local out
    out=$(RUST_LOG=warn target/release/gatehouse runner --api-url "$BASE" --api-key "$API_KEY" \
      --simulate --runners "$runners" --min-ms 0 --max-ms 0 --idle-ms 10 --exit-when-idle | tail -1)
    printf '%-10s runners=%-3s %s   RSS %s MB\n' "$label" "$runners" "$out" \
      "$(( $(ps -o rss= -p "$GATEHOUSE_PID") / 1024 ))"
  done
  stop_gatehouse "$dir"
}

# The deep queue: 100,000 queued scans spread over 1,000 groups (limit 2 each), 64 runners
# (BENCH_DEEP_RUNNERS) for BENCH_SECONDS (20): how long a claim takes, and claims per second
# across groups. BENCH_ONLY_DEEP=1 runs only this part.
deep_runners=${BENCH_DEEP_RUNNERS:-64}
deep_queue() {
  local label=$1 database_url=$2 dir
  dir=$(mktemp -d)
  BENCH_METRICS_PORT=$((port + 100))
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "scans:write"
  local seed="INSERT INTO organizations (id, name, created_at, plan) VALUES (800000, 'Deep', 0, 'enterprise');
INSERT INTO memberships (org_id, user_id, role, created_at, member_name) VALUES (800000, 1, 'owner', 0, 'Bench');"
  local groups="INSERT INTO groups (id, org_id, name, name_key, scans_limit, created_at)
  SELECT 800000 + i, 800000, 'Group ' || i, 'group ' || i, 2, 0 FROM"
  local scans="INSERT INTO scans (org_id, group_id, target, status, created_at)
  SELECT 800000, 800001 + (i % 1000), 'https://host' || i || '.example.com', 'queued', 0 FROM"
  if [ -z "$database_url" ]; then
    { echo "$seed";
      echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) $groups n;";
      echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) $scans n; ANALYZE;"; } \
      | sqlite3 "$dir/gatehouse.db"
  else
    { echo "$seed"; echo "$groups generate_series(1, 1000) AS i;";
      echo "$scans generate_series(1, 100000) AS i; ANALYZE;"; } | psql -q "$database_url" >/dev/null
  fi
  # The seeded key is the benchmark's own key, moved to the deep organization.
  local key="$API_KEY"
  if [ -z "$database_url" ]; then
    sqlite3 "$dir/gatehouse.db" "UPDATE api_keys SET org_id = 800000 WHERE id = 1"
  else
    psql -q "$database_url" -c "UPDATE api_keys SET org_id = 800000 WHERE id = 1" >/dev/null
  fi
  local out
  out=$(RUST_LOG=warn target/release/gatehouse runner --api-url "$BASE" --api-key "$key" \
    --simulate --runners "$deep_runners" --min-ms 0 --max-ms 0 --idle-ms 10 --for-secs "${BENCH_SECONDS:-20}" | tail -1)
  printf '%-10s 100,000 queued in 1,000 groups, runners=%-3s  %s\n' "$label" "$deep_runners" "$out"
  printf '%-10s   %s\n' "$label" "$(server_latency /api/v1/scans/claim)"
  stop_gatehouse "$dir"
  unset BENCH_METRICS_PORT
}

if [ -z "${BENCH_ONLY_DEEP:-}" ]; then
  bench_backend sqlite ""
  on_postgres postgres bench_backend
fi
deep_queue sqlite ""
on_postgres postgres deep_queue
