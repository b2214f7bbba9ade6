#!/usr/bin/env bash
# The organization overview at scale: an organization of 100,000 members (BENCH_MEMBERS; half
# with 2FA), 10,000 groups (BENCH_GROUPS), 50,000 scans (some running and queued in 1,000
# groups), 100,000 audit events and 1,000 failed deliveries, on SQLite and (with
# BENCH_POSTGRES_URL) PostgreSQL. Prints p50 and max of 30 requests of the overview's server
# function for an Owner (every part) as curl saw them on loopback.
#
#   scripts/bench-overview.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-overview.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/gatehouse ] || { echo "build first: scripts/build-release.sh"; exit 1; }
port=${BENCH_PORT:-3204}
members=${BENCH_MEMBERS:-100000}
groups=${BENCH_GROUPS:-10000}
# The row source counts to the largest of the seeded tables.
rows=$(( members > 100000 ? members : 100000 ))
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# $1: a row source of i = 1..N given as "FROM …" (N is the largest count used below), with
# $2 a CTE before each INSERT on SQLite.
seed_sql() {
  local from=$1 cte=${2:-}
  cat <<SQL
UPDATE organizations SET seats = 2000000;
$cte INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, two_factor_at)
SELECT 1000000 + i, 'member' || i || '@corp.example', 'member' || i || '@corp.example', 'Person ' || i, 'x', 0,
       CASE WHEN i % 2 = 0 THEN 1 END $from WHERE i <= $members;
INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
SELECT \$ORG, id, 'user', 0, name FROM users WHERE id > 1000000;
$cte INSERT INTO groups (id, org_id, name, name_key, scans_limit, created_at)
SELECT 100000 + i, \$ORG, 'Group ' || i, 'group ' || i, 2, 0 $from WHERE i <= $groups;
$cte INSERT INTO scans (org_id, group_id, target, status, created_at, attempts)
SELECT \$ORG, 100000 + (i % $groups) + 1, 'https://t' || i || '.example.com/',
       CASE WHEN i % 50 = 0 THEN 'queued' WHEN i % 50 = 1 THEN 'running' WHEN i % 3 = 0 THEN 'failed' ELSE 'finished' END,
       i, 1 $from WHERE i <= 50000;
$cte INSERT INTO audit_events (org_id, actor_user_id, action, target, ip, details, created_at)
SELECT \$ORG, 1000001, 'member.role_changed', 'user:' || i, '192.0.2.1', '{}', 1790000000 + i $from WHERE i <= 100000;
$cte INSERT INTO deliveries (group_id, kind, event, payload, status, attempts, next_attempt_at, created_at, updated_at)
SELECT 100000 + (i % 20) + 1, 'webhook', 'scan.finished', '{}', 'failed', 8, 0, 0, \$NOW $from WHERE i <= 1000;
ANALYZE;
SQL
}

bench_backend() {
  local label=$1 database_url=$2 dir
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "org:read"
  JAR="$dir/cookies"
  echo "$label: seeding $members members, $groups groups, 50,000 scans, 100,000 events…"
  if [ -z "$database_url" ]; then
    seed_sql "FROM n" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)" \
      | sed "s/\\\$ORG/$ORG_ID/g; s/\\\$NOW/$(date +%s)/g" | sqlite3 "$dir/gatehouse.db"
  else
    seed_sql "FROM generate_series(1, $rows) AS i" \
      | sed "s/\\\$ORG/$ORG_ID/g; s/\\\$NOW/$(date +%s)/g" | psql -q "$database_url" >/dev/null
  fi
  printf '%-10s overview (Owner)  %s\n' "$label" "$(timed "$BASE/api/overview" "org_id=$ORG_ID")"
  stop_gatehouse "$dir"
}

bench_backend sqlite ""
on_postgres postgres bench_backend
