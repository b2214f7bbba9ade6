#!/usr/bin/env bash
# Provisioning through SCIM, as an identity provider's first sync does it: 10,000 Users
# (BENCH_SCIM_USERS) created, then 100 Groups (BENCH_SCIM_GROUPS) of 100 members each, by 8
# concurrent clients on kept-alive connections (BENCH_SCIM_CLIENTS); then the provider's
# look-up, `userName eq`, in an organization of 100,000 members (BENCH_MEMBERS). On SQLite
# and (with BENCH_POSTGRES_URL) PostgreSQL. Prints requests per second and p50 / p99 as the
# client measured them (loopback), beside the aims of issue 32.
#
#   scripts/bench-scim.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-scim.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "${GATEHOUSE_BIN:-target/release/gatehouse}" ] || { echo "build first: scripts/build-release.sh"; exit 1; }
port=${BENCH_PORT:-3203}
users=${BENCH_SCIM_USERS:-10000}
groups=${BENCH_SCIM_GROUPS:-100}
clients=${BENCH_SCIM_CLIENTS:-8}
members=${BENCH_MEMBERS:-100000}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# run_sql DIR DATABASE_URL: runs stdin on the benchmark's database.
run_sql() {
  if [ -z "$2" ]; then sqlite3 "$1/gatehouse.db"; else psql -q "$2" >/dev/null; fi
}

bench_backend() {
  local label=$1 database_url=$2 dir token
  dir=$(mktemp -d)
  start_gatehouse "$dir" "$port" "$database_url"
  sign_up_with_key "$dir" "org:read"
  # The domain verified as a DNS check would (the benchmark has no DNS to publish in), and
  # seats for everyone.
  run_sql "$dir" "$database_url" <<SQL
UPDATE organizations SET seats = 1000000, plan = 'enterprise' WHERE id = $ORG_ID;
INSERT INTO org_domains (org_id, domain, token, created_at, verified_at) VALUES ($ORG_ID, 'corp.example', 'bench', 0, 0);
SQL
  token=$(curl -fs -b "$dir/cookies" --data-urlencode "org_id=$ORG_ID" --data-urlencode "name=Bench" \
    "$BASE/api/org/provisioning/token" | json_field 'd["token"]')
  python3 - "$BASE" "$token" "$users" "$groups" "$clients" "$label" <<'PY'
import http.client, json, sys, threading, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor

base, token, users, groups, clients, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
host = urllib.parse.urlparse(base).netloc
local = threading.local()
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

def call(method, path, body=None):
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection(host, timeout=60)
    started = time.perf_counter()
    local.conn.request(method, "/scim/v2" + path, body=json.dumps(body) if body else None, headers=headers)
    response = local.conn.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {payload[:300]!r}")
    return elapsed, json.loads(payload) if payload else None

def phase(name, jobs, aim):
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda job: call(*job), jobs))
    wall = time.perf_counter() - started
    times = sorted(t for t, _ in results)
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
    print(f"{label:9} {name:38} {len(jobs) / wall:8.0f} req/s   p50 {p(0.5):6.1f} ms   p99 {p(0.99):6.1f} ms   ({aim})")
    return [body for _, body in results]

user = lambda i: ("POST", "/Users", {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": f"person{i}@corp.example", "externalId": f"ext-{i}",
    "name": {"givenName": "Person", "familyName": str(i)}, "active": True})
made = phase(f"create {users:,} Users", [user(i) for i in range(users)], "measured; no aim")
ids = [u["id"] for u in made]
per_group = max(1, len(ids) // max(1, groups))
group = lambda g: ("POST", "/Groups", {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"Team {g}",
    "members": [{"value": v} for v in ids[g * per_group:(g + 1) * per_group]]})
phase(f"create {groups} Groups of {per_group} members", [group(g) for g in range(groups)], "measured; no aim")
lookups = [("GET", "/Users?filter=" + urllib.parse.quote(f'userName eq "person{i * 97 % users}@corp.example"')) for i in range(2000)]
phase("userName eq (10,000 members)", lookups, "aim: p99 < 10 ms")
PY
  # The look-up again with 100,000 members more, seeded in SQL.
  if [ -z "$database_url" ]; then
    cat <<SQL | run_sql "$dir" ""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $members)
INSERT INTO users (id, email, email_normalized, name, password_hash, created_at)
SELECT 2000000 + i, 'member' || i || '@corp.example', 'member' || i || '@corp.example', 'Member ' || i, 'x', 0 FROM n;
INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
SELECT $ORG_ID, id, 'user', 0, name FROM users WHERE id > 2000000;
ANALYZE;
SQL
  else
    cat <<SQL | run_sql "$dir" "$database_url"
INSERT INTO users (id, email, email_normalized, name, password_hash, created_at)
SELECT 2000000 + i, 'member' || i || '@corp.example', 'member' || i || '@corp.example', 'Member ' || i, 'x', 0
FROM generate_series(1, $members) AS i;
INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
SELECT $ORG_ID, id, 'user', 0, name FROM users WHERE id > 2000000;
ANALYZE;
SQL
  fi
  python3 - "$BASE" "$token" "$members" "$label" <<'PY'
import http.client, sys, time, urllib.parse
base, token, members, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
conn = http.client.HTTPConnection(urllib.parse.urlparse(base).netloc, timeout=60)
times = []
for i in range(500):
    path = "/scim/v2/Users?filter=" + urllib.parse.quote(f'userName eq "member{(i * 7919) % members + 1}@corp.example"')
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    times.append(time.perf_counter() - started)
    if response.status != 200 or b'"totalResults":1' not in body:
        raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
times.sort()
p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
print(f"{label:9} {'userName eq (' + format(members + 10000, ',') + ' members)':38} {'':8}         p50 {p(0.5):6.1f} ms   p99 {p(0.99):6.1f} ms   (aim: < 10 ms)")
PY
  stop_gatehouse "$dir"
}

bench_backend sqlite ""
on_postgres postgres bench_backend
