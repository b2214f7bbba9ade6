#!/usr/bin/env bash
# Times the SQL of the list pages at the scale SPEC.md names (one organization with 100,000
# members and 10,000 groups) on SQLite, with Gatehouse's own migrations. Needs sqlite3 and a
# built binary (scripts/build-release.sh, or cargo build -p server).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/gatehouse
[ -x "$bin" ] || bin=target/debug/gatehouse
[ -x "$bin" ] || { echo "build first: scripts/build-release.sh"; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 command"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" --data-dir "$dir" migrate >/dev/null
db="$dir/gatehouse.db"

sqlite3 "$db" <<'SQL'
PRAGMA journal_mode = WAL;
INSERT INTO organizations (id, name, created_at) VALUES (1, 'Big', 0);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, two_factor_at)
SELECT i, 'user' || i || '@example.com', 'user' || i || '@example.com', 'User ' || printf('%06d', i), 'x', 0,
       CASE WHEN i % 3 = 0 THEN 1 END FROM n;
INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
SELECT 1, id, 'user', 0, name FROM users;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO groups (id, org_id, name, name_key, description, scans_limit, created_at)
SELECT i, 1, 'Group ' || printf('%05d', i), 'group ' || printf('%05d', i), '', 3, 0 FROM n;
-- 10 members in each group.
INSERT INTO group_members (group_id, org_id, user_id, created_at)
SELECT g.id, 1, ((g.id * 10 + k.k) % 100000) + 1, 0
FROM groups g, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
                UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) k;
ANALYZE;
SQL

time_query() {
  local label=$1 sql=$2
  # Best of 5 runs, in milliseconds.
  local best
  best=$(for _ in 1 2 3 4 5; do
    printf ".timer on\n%s\n" "$sql" | sqlite3 "$db" 2>&1 | sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p' | tail -1
  done | sort -n | head -1)
  printf '%-70s %8.2f ms\n' "$label" "$(echo "$best * 1000" | bc -l)"
}

time_query "groups page 101 of 200 (keyset, member counts)" \
  "SELECT g.id, g.name, (SELECT COUNT(*) FROM group_members gm WHERE gm.group_id = g.id) FROM groups g
   WHERE g.org_id = 1 AND (g.name_key, g.id) > ('group 05000', 5000) ORDER BY g.name_key, g.id LIMIT 51;"
time_query "groups search for a rare name" \
  "SELECT g.id FROM groups g WHERE g.org_id = 1 AND (g.name_key, g.id) > ('', 0)
   AND g.name_key LIKE '%09999%' ESCAPE '\\' ORDER BY g.name_key, g.id LIMIT 51;"
time_query "member type-ahead (prefix of a name)" \
  "SELECT u.id FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = 1
   AND (LOWER(m.member_name) LIKE 'user 0999%' ESCAPE '\\' OR u.email_normalized LIKE 'user 0999%' ESCAPE '\\'
        OR LOWER(m.member_name) LIKE '% user 0999%' ESCAPE '\\') ORDER BY m.member_name, m.user_id LIMIT 10;"
time_query "members page 1,001 of 2,000, with each member's groups" \
  "SELECT gm.user_id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
   WHERE gm.org_id = 1 AND gm.user_id IN (SELECT m.user_id FROM memberships m WHERE m.org_id = 1
   AND (m.member_name, m.user_id) > ('User 050000', 50000) ORDER BY m.member_name, m.user_id LIMIT 50);"
time_query "2FA policy panel: count of members without 2FA" \
  "SELECT COUNT(*) FROM memberships m WHERE m.org_id = 1 AND m.two_factor_at IS NULL;"
time_query "overview: members with 2FA" \
  "SELECT COUNT(*) FROM memberships WHERE org_id = 1 AND two_factor_at IS NOT NULL;"
time_query "org access check (membership, policy, 2FA in one row)" \
  "SELECT m.role, o.require_two_factor, m.created_at, u.two_factor_at FROM memberships m
   JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id WHERE m.org_id = 1 AND m.user_id = 77777;"

# A deep backlog: 100,000 queued scans in one group; the Scans page's newest 50 with each one's
# place in line (counted up to 1,001).
sqlite3 "$db" <<'SQL'
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO scans (org_id, group_id, target, status, created_at)
SELECT 1, 1, 'https://host' || i || '.example.com', 'queued', 0 FROM n;
ANALYZE;
SQL
time_query "scans page of a 100,000-scan backlog, with places in line" \
  "SELECT s.id, (SELECT COUNT(*) FROM scans r WHERE r.group_id = s.group_id AND r.status = 'running'),
     (SELECT COUNT(*) FROM (SELECT 1 FROM scans q WHERE q.group_id = s.group_id AND q.status = 'queued'
       AND q.id <= s.id LIMIT 1001) ahead)
   FROM scans s JOIN groups g ON g.id = s.group_id WHERE s.org_id = 1 ORDER BY s.id DESC LIMIT 50;"
