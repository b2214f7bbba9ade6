# Shared by the bench scripts: a release Gatehouse on a scratch data directory, and an
# account on it. Source it; it defines functions only.

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# start_gatehouse DIR PORT [DATABASE_URL]: starts the release binary (GATEHOUSE_BIN, default
# target/release/gatehouse) without a request budget;
# sets GATEHOUSE_PID and BASE, and waits until it is healthy.
start_gatehouse() {
  local dir=$1 port=$2 database_url=${3:-}
  local args=(--data-dir "$dir" --addr "127.0.0.1:$port" --api-rate-limit 0)
  [ -n "$database_url" ] && args+=(--database-url "$database_url")
  # BENCH_METRICS_PORT: serve /metrics there too (the benchmark reads the server's own timings).
  [ -n "${BENCH_METRICS_PORT:-}" ] && args+=(--metrics-addr "127.0.0.1:$BENCH_METRICS_PORT")
  RUST_LOG=warn "${GATEHOUSE_BIN:-target/release/gatehouse}" "${args[@]}" >"$dir/server.log" 2>&1 &
  GATEHOUSE_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "Gatehouse did not start: $(cat "$dir/server.log")"
  return 1
}

# sign_up_with_key DIR SCOPES: signs up (a new organization), creates an API key with
# SCOPES; sets ORG_ID and API_KEY, and leaves the session in DIR/cookies.
sign_up_with_key() {
  local jar="$1/cookies" scopes=$2
  curl -fs -c "$jar" -b "$jar" --data-urlencode "name=Bench" --data-urlencode "email=bench@example.com" \
    --data-urlencode "password=bench password 1234" --data-urlencode "organization=Big" \
    "$BASE/api/sign_up" >/dev/null
  ORG_ID=$(curl -fs -b "$jar" -X POST "$BASE/api/session" | json_field 'd["current_org"]["id"]')
  API_KEY=$(curl -fs -b "$jar" --data-urlencode "name=bench" --data-urlencode "org_id=$ORG_ID" \
    --data-urlencode "scopes=$scopes" --data-urlencode "expiry=30" \
    "$BASE/api/api_keys/create" | json_field 'd["key"]')
}

# stop_gatehouse DIR: stops the server and removes its data directory.
stop_gatehouse() {
  kill "$GATEHOUSE_PID" 2>/dev/null || true
  wait "$GATEHOUSE_PID" 2>/dev/null || true
  rm -rf "$1"
}

# on_postgres LABEL FUNCTION: runs FUNCTION LABEL URL on a scratch database of
# BENCH_POSTGRES_URL's server, when that is set.
on_postgres() {
  local pg=${BENCH_POSTGRES_URL:-}
  [ -n "$pg" ] || return 0
  command -v psql >/dev/null || { echo "needs psql for PostgreSQL"; return 1; }
  local db="gatehouse_bench_$$"
  psql -q "$pg" -c "CREATE DATABASE $db" >/dev/null
  "$2" "$1" "${pg%/*}/$db"
  psql -q "$pg" -c "DROP DATABASE $db" >/dev/null || true
}

# p50 and max (ms) of 30 GETs of $1 with the API key, or 30 POSTs of form $2 with the cookie.
timed() {
  local url=$1 form=${2:-}
  for _ in $(seq 1 30); do
    if [ -z "$form" ]; then
      curl -fs -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $API_KEY" "$url"
    else
      curl -fs -o /dev/null -w '%{time_total}\n' -b "$JAR" -d "$form" "$url"
    fi
  done | python3 -c "
import sys; t = sorted(float(x) * 1000 for x in sys.stdin)
print(f'p50 {t[len(t)//2]:6.1f} ms   max {t[-1]:6.1f} ms')"
}

# server_latency ROUTE: from the server's /metrics (BENCH_METRICS_PORT), how many requests of
# ROUTE (a route template) answered 200, the share within 5 ms, and an upper bound of the p99
# (the histogram bucket it falls in), as the server measured them: no client or queueing time.
server_latency() {
  curl -fs "http://127.0.0.1:$BENCH_METRICS_PORT/metrics" | python3 -c '
import sys, re
route = sys.argv[1]
buckets = {}
for line in sys.stdin:
    if not line.startswith("gatehouse_http_request_duration_seconds_bucket"):
        continue
    if f"route=\"{route}\"" not in line or "status=\"200\"" not in line:
        continue
    le = re.search(r"le=\"([^\"]+)\"", line).group(1)
    buckets[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
if not buckets:
    print("no requests of", route); sys.exit(0)
total = buckets[float("inf")]
within5 = buckets.get(0.005, 0) / total * 100
p99 = next(le for le in sorted(buckets) if buckets[le] >= 0.99 * total)
print(f"server-side: {int(total)} claims, {within5:.1f}% within 5 ms, p99 <= {p99 * 1000:g} ms")
' "$1"
}
