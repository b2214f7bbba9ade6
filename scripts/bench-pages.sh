#!/usr/bin/env bash
# Load test of server-rendered pages with wrk, as a signed-in browser on a kept-alive
# connection: /signin (no database), and /members of a one-member organization and of a
# 1,000,000-member one (a 50-member page). Concurrency 16, and 32 for the one-member page
# beside its aim; prints pages/s, p50 and p99.
#
#   scripts/bench-pages.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-pages.sh
#   BENCH_MEMBERS=100000 scripts/bench-pages.sh     # a smaller big organization
#
# Needs a release build (scripts/build-release.sh), curl, python3, sqlite3 (psql for
# PostgreSQL); installs wrk from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/gatehouse ] || { echo "build first: scripts/build-release.sh"; exit 1; }
if ! command -v wrk >/dev/null; then
  (apt-get install -y -qq wrk >/dev/null 2>&1 || sudo -n apt-get install -y -qq wrk >/dev/null 2>&1) \
    || { echo "could not install wrk (apt-get install wrk)"; exit 1; }
fi
duration=${BENCH_DURATION:-10s}
port=${BENCH_PORT:-3201}
members=${BENCH_MEMBERS:-1000000}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# run LABEL NAME URL COOKIE [CONCURRENCY] [AIM]: one wrk run; prints pages/s, p50, p99 and the aim.
run() {
  local label=$1 name=$2 url=$3 cookie=$4 connections=${5:-16} aim=${6:-} out
  out=$(wrk -t2 -c"$connections" -d"$duration" --latency -H "Accept: text/html" ${cookie:+-H "Cookie: $cookie"} "$url")
  printf '%-10s %-34s c%-3s %9s pages/s   p50 %-8s p99 %-8s%s%s\n' "$label" "$name" "$connections" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1 == "50%" {print $2}')" "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
    "${aim:+   aim: $aim}" "$(echo "$out" | awk '/Non-2xx/ {print "   non-2xx: " $NF}')"
}

bench_backend() {
  local label=$1 database_url=$2 dir
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "org:read"
  local cookie
  cookie="gatehouse_session=$(awk '$6 == "gatehouse_session" {print $7}' "$dir/cookies")"
  curl -fs -H "Cookie: $cookie" -H 'Accept: text/html' "$BASE/members" | grep -q 'bench@example.com' \
    || { echo "the members page did not render for the benchmark's session"; exit 1; }
  run "$label" "/signin" "$BASE/signin" ""
  run "$label" "/members (1 member)" "$BASE/members" "$cookie"
  # The measure of issue 34: an idle machine, SQLite.
  run "$label" "/members (1 member)" "$BASE/members" "$cookie" 32 ">= 3,000 pages/s, p99 < 15 ms (idle machine)"
  # The same Owner in a big organization.
  local big
  big=$(seed_big_org "$database_url" "$dir")
  curl -fs -b "$dir/cookies" -c "$dir/cookies" --data-urlencode "org_id=$big" "$BASE/api/switch_org" >/dev/null
  run "$label" "/members ($members members)" "$BASE/members" "$cookie"
  stop_gatehouse "$dir"
}

# Creates an organization with $members members, the benchmark's user its Owner; prints its id.
seed_big_org() {
  local database_url=$1 dir=$2
  local sql="INSERT INTO organizations (id, name, created_at, seats) VALUES (900000, 'Huge', 0, 2000000);
INSERT INTO memberships (org_id, user_id, role, created_at, member_name) VALUES (900000, 1, 'owner', 0, 'Bench');"
  if [ -z "$database_url" ]; then
    { echo "$sql"; echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $members)";
      echo "INSERT INTO users (id, email, email_normalized, name, password_hash, created_at)
            SELECT 1000000 + i, 'user' || i || '@example.com', 'user' || i || '@example.com', 'User ' || printf('%07d', i), 'x', 0 FROM n;";
      echo "INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
            SELECT 900000, id, 'user', 0, name FROM users WHERE id > 1000000;"; echo "ANALYZE;"; } | sqlite3 "$dir/gatehouse.db"
  else
    { echo "$sql";
      echo "INSERT INTO users (id, email, email_normalized, name, password_hash, created_at)
            SELECT 1000000 + i, 'user' || i || '@example.com', 'user' || i || '@example.com', 'User ' || lpad(i::text, 7, '0'), 'x', 0 FROM generate_series(1, $members) AS i;";
      echo "INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
            SELECT 900000, id, 'user', 0, name FROM users WHERE id > 1000000;"; echo "ANALYZE;"; } | psql -q "$database_url" >/dev/null
  fi
  echo 900000
}

bench_backend sqlite ""
on_postgres postgres bench_backend
