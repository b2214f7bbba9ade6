#!/usr/bin/env bash
# Member search at scale: an organization of 1,000,000 members (BENCH_MEMBERS), searched by
# name or email through the REST API (the members list's search) and the group type-ahead,
# on SQLite and (with BENCH_POSTGRES_URL) PostgreSQL. Prints p50 and max of 30 requests per
# term, as the server measured them (curl's time to the last byte on loopback).
#
#   scripts/bench-search.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/gatehouse ] || { echo "build first: scripts/build-release.sh"; exit 1; }
port=${BENCH_PORT:-3202}
members=${BENCH_MEMBERS:-1000000}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# SQL that seeds the members; $1 is the row source ("n" with a recursive CTE before the
# INSERT on SQLite, generate_series on PostgreSQL), $2 the zero-padded number.
seed_sql() {
  local series=$1 padded=$2 cte=${3:-}
  cat <<SQL
UPDATE organizations SET seats = 2000000;
$cte INSERT INTO users (id, email, email_normalized, name, password_hash, created_at)
SELECT 1000000 + i, 'member' || i || '@corp' || (i % 97) || '.example', 'member' || i || '@corp' || (i % 97) || '.example',
       'Person ' || $padded, 'x', 0 FROM $series;
INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
SELECT \$ORG, id, 'user', 0, name FROM users WHERE id > 1000000;
ANALYZE;
SQL
}

bench_backend() {
  local label=$1 database_url=$2 dir
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "members:read"
  JAR="$dir/cookies"
  echo "$label: seeding $members members…"
  if [ -z "$database_url" ]; then
    seed_sql n "printf('%07d', i)" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $members)" \
      | sed "s/\\\$ORG/$ORG_ID/" | sqlite3 "$dir/gatehouse.db"
  else
    seed_sql "generate_series(1, $members) AS i" "lpad(i::text, 7, '0')" \
      | sed "s/\\\$ORG/$ORG_ID/" | psql -q "$database_url" >/dev/null
  fi
  for term in "0123456:a rare name part (1 match)" "member4242@corp:an email part (1 match)" \
              "member424:an email part (1,111 matches)" \
              "corp17.example:a common email part (about 10,300 matches)" "Pe:two letters (name start; every member)"; do
    local q=${term%%:*} what=${term#*:}
    printf '%-10s %-46s list   %s\n' "$label" "$what" \
      "$(timed "$BASE/api/v1/members?limit=50&q=$(python3 -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))" "$q")")"
    printf '%-10s %-46s ahead  %s\n' "$label" "$what" \
      "$(timed "$BASE/api/groups/member_suggestions" "org_id=$ORG_ID&q=$q")"
  done
  stop_gatehouse "$dir"
}

bench_backend sqlite ""
on_postgres postgres bench_backend
