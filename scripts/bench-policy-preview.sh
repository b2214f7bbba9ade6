#!/usr/bin/env bash
# A policy's impact preview at scale: an organization of 100,000 members (BENCH_MEMBERS), 70%
# without a second factor and 10% with a passkey, and 50,000 API keys (BENCH_KEYS) with their
# last use, on SQLite and (with BENCH_POSTGRES_URL) PostgreSQL. Prints p50 and max of 30
# previews per policy through the REST API (curl's time to the last byte on loopback).
#
#   scripts/bench-policy-preview.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-policy-preview.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "${GATEHOUSE_BIN:-target/release/gatehouse}" ] || { echo "build first: scripts/build-release.sh"; exit 1; }
port=${BENCH_PORT:-3207}
members=${BENCH_MEMBERS:-100000}
keys=${BENCH_KEYS:-50000}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# $1: the row source of 1..members; $2: of 1..keys; $3 a CTE for SQLite's series.
seed_sql() {
  local series=$1 key_series=$2 cte=${3:-} key_cte=${4:-}
  cat <<SQL
UPDATE organizations SET seats = 2000000;
$cte INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, two_factor_at, passkey_at)
SELECT 1000000 + i, 'member' || i || '@corp.example', 'member' || i || '@corp.example',
       'Person ' || i, 'x', 0,
       CASE WHEN i % 10 >= 7 THEN 1 END, CASE WHEN i % 10 = 9 THEN 1 END FROM $series;
INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
SELECT \$ORG, id, 'user', 0, name FROM users WHERE id > 1000000;
$key_cte INSERT INTO api_keys (user_id, org_id, name, prefix, key_hash, scopes, created_at,
                      last_used_at, last_used_ip, last_used_agent)
SELECT 1000000 + (i * 2) % $members + 1, \$ORG, 'key ' || i, 'gth_bench', 'benchhash' || i, 'scans:write', 0,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 1700000000 + i END, '203.0.113.' || (i % 250),
       'deploy-bot/' || (i % 7) FROM $key_series;
ANALYZE;
SQL
}

bench_backend() {
  local label=$1 database_url=$2 dir
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "members:read"
  echo "$label: seeding $members members and $keys keys…"
  if [ -z "$database_url" ]; then
    seed_sql n k "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $members)" \
      "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $keys)" \
      | sed "s/\\\$ORG/$ORG_ID/g" | sqlite3 "$dir/gatehouse.db"
  else
    seed_sql "generate_series(1, $members) AS i" "generate_series(1, $keys) AS i" \
      | sed "s/\\\$ORG/$ORG_ID/g" | psql -q "$database_url" >/dev/null
  fi
  local url="$BASE/api/v1/org/policies/preview"
  curl -fs -H "Authorization: Bearer $API_KEY" "$url?policy=two_factor&grace_days=7" \
    | json_field '"  affects %d members, %d keys" % (d["members_count"], d["keys_count"])'
  for policy in "two_factor&grace_days=7" "security_keys" "sso"; do
    printf '%-10s %-28s %s\n' "$label" "${policy%%&*}" "$(timed "$url?policy=$policy")"
  done
  stop_gatehouse "$dir"
}

bench_backend sqlite ""
on_postgres postgres bench_backend
