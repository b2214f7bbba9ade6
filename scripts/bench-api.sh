#!/usr/bin/env bash
# Load test of the REST API with wrk: GET /api/v1/me, and a 50-member page from the middle of
# a 100,000-member organization, at concurrency 16 and 64, on SQLite and (when a server is
# given) PostgreSQL. Prints requests/s, p50, p99 and the server's RSS after the run.
#
#   scripts/bench-api.sh                       # SQLite only
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-api.sh
#   BENCH_DURATION=30s scripts/bench-api.sh    # longer runs (default 10s each)
#
# Needs a release build (scripts/build-release.sh), curl, python3, sqlite3 (and psql for
# PostgreSQL); installs wrk from Debian's packages when missing. wrk shares the machine's
# cores with the server, as the reference figures in docs/performance.md do.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/gatehouse
[ -x "$bin" ] || { echo "build first: scripts/build-release.sh"; exit 1; }
if ! command -v wrk >/dev/null; then
  (apt-get install -y -qq wrk >/dev/null 2>&1 || sudo -n apt-get install -y -qq wrk >/dev/null 2>&1) \
    || { echo "could not install wrk (apt-get install wrk)"; exit 1; }
fi
for tool in curl python3 sqlite3; do
  command -v "$tool" >/dev/null || { echo "needs $tool"; exit 1; }
done
duration=${BENCH_DURATION:-10s}
port=${BENCH_PORT:-3200}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# Seeds 100,000 members named "User 000001"… into organization $1 (user ids from 1,000,000).
seed_sql() {
  local org=$1 series=$2 padded=$3
  cat <<SQL
INSERT INTO users (id, email, email_normalized, name, password_hash, created_at)
SELECT 1000000 + i, 'user' || i || '@example.com', 'user' || i || '@example.com',
       'User ' || $padded, 'x', 0 FROM $series;
INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
SELECT $org, id, 'user', 0, name FROM users WHERE id > 1000000;
SQL
}

bench_backend() {
  local label=$1 database_url=$2
  local dir
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "org:read members:read"
  if [ -z "$database_url" ]; then
    { echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)";
      seed_sql "$ORG_ID" n "printf('%06d', i)"; echo "ANALYZE;"; } | sqlite3 "$dir/gatehouse.db"
  else
    { seed_sql "$ORG_ID" "generate_series(1, 100000) AS i" "lpad(i::text, 6, '0')"; echo "ANALYZE;"; } \
      | psql -q "$database_url" >/dev/null
  fi
  # A page from the middle: the cursor the previous page would have given.
  local page="$BASE/api/v1/members?limit=50&cursor=1050000%3AUser%20050000"
  local check
  check=$(curl -fs -H "Authorization: Bearer $API_KEY" "$page" | json_field 'len(d["members"])')
  [ "$check" = 50 ] || { echo "the members page did not answer 50 members: $check"; exit 1; }
  for target in "/me|$BASE/api/v1/me" "members page|$page"; do
    local name=${target%%|*} url=${target#*|}
    for c in 16 64; do
      local out rps p50 p99 errors
      out=$(wrk -t2 -c"$c" -d"$duration" --latency -H "Authorization: Bearer $API_KEY" "$url")
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
      p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
      errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
      printf '%-10s %-13s c=%-3s %10s req/s   p50 %-8s p99 %-8s RSS %s MB%s\n' \
        "$label" "$name" "$c" "$rps" "$p50" "$p99" "$(( $(ps -o rss= -p "$GATEHOUSE_PID") / 1024 ))" \
        "${errors:+   non-2xx: $errors}"
    done
  done
  stop_gatehouse "$dir"
}

bench_backend sqlite ""
on_postgres postgres bench_backend
