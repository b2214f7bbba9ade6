//! Upgrades keep every row: for each earlier schema version, on both databases, a database
//! made by Gatehouse's own migrations up to that version, with rows in every table it has
//! (each written at the schema of its era), then today's migrations, then: every row still there, each backfill done, foreign
//! keys whole, and today's Gatehouse serving the people and keys in it.

use crate::common;

use app::db::Db;
use common::{Backend, TempDir, TestApp, PASSWORD};

on_both_databases!(
    every_earlier_schema_upgrades_with_every_row_kept,
    replicas_serve_side_by_side_on_a_newer_builds_schema,
);

/// Rows for the tables each migration made (or columns it added), in SQL both databases
/// speak: natural keys only, so that identity columns keep counting. `{hash}` is a real
/// password hash, `{key_hash}` a real API key's hash.
const FIXTURES: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "INSERT INTO users (email, email_normalized, name, password_hash, created_at)
             VALUES ('olga@upgrade.example', 'olga@upgrade.example', 'Olga Owner', '{hash}', 100)",
            "INSERT INTO users (email, email_normalized, name, password_hash, created_at)
             VALUES ('max@upgrade.example', 'max@upgrade.example', 'Max Member', '{hash}', 100)",
            "INSERT INTO organizations (name, created_at) VALUES ('Upgrade Org', 100)",
            "INSERT INTO memberships (org_id, user_id, role, created_at)
             SELECT o.id, u.id, 'owner', 100 FROM organizations o, users u
             WHERE o.name = 'Upgrade Org' AND u.email = 'olga@upgrade.example'",
            "INSERT INTO memberships (org_id, user_id, role, created_at)
             SELECT o.id, u.id, 'user', 100 FROM organizations o, users u
             WHERE o.name = 'Upgrade Org' AND u.email = 'max@upgrade.example'",
            "INSERT INTO sessions (id_hash, user_id, current_org_id, created_at, last_seen_at, expires_at)
             SELECT 'session-olga', id, NULL, 100, 100, 4000000000 FROM users WHERE email = 'olga@upgrade.example'",
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('signin-ip:192.0.2.1', 100, 3)",
            "INSERT INTO audit_events (org_id, actor_user_id, action, target, ip, details, created_at)
             SELECT o.id, u.id, 'user.sign_up', 'user:1', '192.0.2.1', '{}', 100 FROM organizations o, users u
             WHERE o.name = 'Upgrade Org' AND u.email = 'olga@upgrade.example'",
        ],
    ),
    (
        2,
        &["INSERT INTO invitations (org_id, email, email_normalized, name, role, token_hash, created_at, expires_at)
           SELECT id, 'ivy@upgrade.example', 'ivy@upgrade.example', 'Ivy', 'user', 'invitation-hash', 100, 4000000000
           FROM organizations WHERE name = 'Upgrade Org'"],
    ),
    (
        4,
        &[
            // Max turned on an authenticator app: later migrations copy that to his membership
            // and to `two_factor_at`.
            "UPDATE users SET totp_secret = 'sealed', totp_enabled_at = 150 WHERE email = 'max@upgrade.example'",
            "INSERT INTO recovery_codes (user_id, code_hash, created_at)
             SELECT id, 'code-hash', 150 FROM users WHERE email = 'max@upgrade.example'",
            "INSERT INTO sign_in_challenges (id_hash, user_id, next_path, expires_at)
             SELECT 'challenge-max', id, '/', 4000000000 FROM users WHERE email = 'max@upgrade.example'",
            "INSERT INTO two_factor_notices (user_id, org_id, created_at)
             SELECT u.id, o.id, 150 FROM users u, organizations o
             WHERE u.email = 'olga@upgrade.example' AND o.name = 'Upgrade Org'",
        ],
    ),
    (
        5,
        &[
            "INSERT INTO groups (org_id, name, name_key, description, scans_limit, created_at)
             SELECT id, 'Red Team', 'red team', 'Offensive testing', 2, 200 FROM organizations WHERE name = 'Upgrade Org'",
            "INSERT INTO group_members (group_id, org_id, user_id, created_at)
             SELECT g.id, g.org_id, u.id, 200 FROM groups g, users u
             WHERE g.name = 'Red Team' AND u.email = 'max@upgrade.example'",
            "INSERT INTO group_integrations (group_id, kind, enabled, url, secret, updated_at)
             SELECT id, 'webhook', 1, 'https://hooks.example/in', 'sealed', 200 FROM groups WHERE name = 'Red Team'",
            "INSERT INTO deliveries (group_id, kind, event, payload, status, next_attempt_at, created_at, updated_at)
             SELECT id, 'webhook', 'group.created', '{}', 'delivered', 200, 200, 200 FROM groups WHERE name = 'Red Team'",
        ],
    ),
    (
        6,
        &["INSERT INTO api_keys (user_id, org_id, name, prefix, key_hash, scopes, created_at, expires_at)
           SELECT u.id, o.id, 'nightly', 'gth_upgrad', '{key_hash}', 'org:read members:read', 300, 4000000000
           FROM users u, organizations o WHERE u.email = 'olga@upgrade.example' AND o.name = 'Upgrade Org'"],
    ),
    (
        7,
        &["INSERT INTO scans (org_id, group_id, target, status, created_by, created_at)
           SELECT g.org_id, g.id, 'https://app.example', 'queued', u.id, 300 FROM groups g, users u
           WHERE g.name = 'Red Team' AND u.email = 'max@upgrade.example'"],
    ),
    (
        12,
        &["INSERT INTO api_key_expiry_notices (key_id, days_before, user_id, created_at)
           SELECT k.id, 7, k.user_id, 400 FROM api_keys k WHERE k.name = 'nightly'"],
    ),
    (
        15,
        &["INSERT INTO passkeys (user_id, credential_id, name, credential, created_at)
           SELECT id, 'credential-1', 'YubiKey', '{}', 500 FROM users WHERE email = 'olga@upgrade.example'"],
    ),
    (
        17,
        &[
            "INSERT INTO sso_connections (org_id, issuer, client_id, client_secret, default_role, updated_at)
             SELECT id, 'https://idp.upgrade.example', 'gatehouse', 'sealed', 'user', 600 FROM organizations WHERE name = 'Upgrade Org'",
            "INSERT INTO sso_domains (domain, org_id) SELECT 'upgrade.example', id FROM organizations WHERE name = 'Upgrade Org'",
            "INSERT INTO sso_identities (org_id, issuer, subject, user_id, created_at, last_used_at)
             SELECT o.id, 'https://idp.upgrade.example', 'sub-max', u.id, 600, 600 FROM organizations o, users u
             WHERE o.name = 'Upgrade Org' AND u.email = 'max@upgrade.example'",
            "INSERT INTO sso_logins (state_hash, org_id, purpose, nonce, pkce_verifier, expires_at)
             SELECT 'state-hash', id, 'sign_in', 'nonce', 'verifier', 4000000000 FROM organizations WHERE name = 'Upgrade Org'",
            "INSERT INTO sso_pending_links (token_hash, org_id, issuer, subject, user_id, expires_at)
             SELECT 'link-hash', o.id, 'https://idp.upgrade.example', 'sub-olga', u.id, 4000000000
             FROM organizations o, users u WHERE o.name = 'Upgrade Org' AND u.email = 'olga@upgrade.example'",
            "INSERT INTO sessions (id_hash, user_id, current_org_id, created_at, last_seen_at, expires_at, sso_org_id)
             SELECT 'session-max-sso', u.id, o.id, 600, 600, 4000000000, o.id FROM users u, organizations o
             WHERE u.email = 'max@upgrade.example' AND o.name = 'Upgrade Org'",
        ],
    ),
    (
        19,
        &["INSERT INTO org_domains (org_id, domain, token, created_at, verified_at)
           SELECT id, 'upgrade.example', 'token', 700, 700 FROM organizations WHERE name = 'Upgrade Org'"],
    ),
    (
        20,
        &["INSERT INTO idempotency_keys (key_hash, idem_key, fingerprint, created_at, status, body)
           VALUES ('scope', 'create-1', 'fingerprint', 800, 201, '{}')"],
    ),
];

/// The rows each table must hold after the upgrade from `version`.
fn expected(version: i64) -> Vec<(&'static str, i64)> {
    let from = |v: i64, rows: i64| if version >= v { rows } else { 0 };
    vec![
        ("users", 2),
        ("organizations", 1),
        ("memberships", 2),
        ("sessions", 1 + from(17, 1)),
        ("rate_limits", 1),
        ("audit_events", 1),
        ("invitations", from(2, 1)),
        ("recovery_codes", from(4, 1)),
        ("sign_in_challenges", from(4, 1)),
        ("two_factor_notices", from(4, 1)),
        ("groups", from(5, 1)),
        ("group_members", from(5, 1)),
        ("group_integrations", from(5, 1)),
        ("deliveries", from(5, 1)),
        ("api_keys", from(6, 1)),
        ("scans", from(7, 1)),
        ("api_key_expiry_notices", from(12, 1)),
        ("passkeys", from(15, 1)),
        ("sso_connections", from(17, 1)),
        ("sso_domains", from(17, 1)),
        ("sso_identities", from(17, 1)),
        ("sso_logins", from(17, 1)),
        ("sso_pending_links", from(17, 1)),
        ("org_domains", from(19, 1)),
        ("idempotency_keys", from(20, 1)),
    ]
}

async fn one(db: &Db, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

async fn every_earlier_schema_upgrades_with_every_row_kept(donor: TestApp) {
    // A real password hash and API key, made by today's Gatehouse.
    let (olga, org) = donor.new_org("donor@upgrade.example", "Donor").await;
    let key = donor
        .create_key(&olga, org, "org:read members:read", "30")
        .await;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(&donor.state.db.pool)
        .await
        .expect("a password hash");
    let (key_hash,): (String,) = sqlx::query_as("SELECT key_hash FROM api_keys")
        .fetch_one(&donor.state.db.pool)
        .await
        .expect("a key hash");
    let versions = donor.state.db.migration_versions();
    let latest = *versions.last().expect("migrations");
    let mut checked = 0;
    for &version in &versions {
        let (url, _folder) = match donor.backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!(
                    "gatehouse-upgrade-{}-{version}",
                    std::process::id()
                ));
                std::fs::create_dir_all(&dir).expect("folder");
                let url = format!("sqlite://{}", dir.join("gatehouse.db").display());
                (url, Some(TempDir(dir)))
            }
            Backend::Postgres => (
                common::fresh_postgres_database()
                    .await
                    .expect("a PostgreSQL database"),
                None,
            ),
        };
        let db = Db::connect(&url).await.expect("connect");
        // The database's history up to `version`: each era's rows written at that era's
        // schema, as that version of Gatehouse wrote them.
        for (at, statements) in FIXTURES.iter().filter(|(at, _)| *at <= version) {
            db.migrate_up_to(*at).await.expect("an earlier schema");
            for statement in *statements {
                let sql = statement
                    .replace("{hash}", &hash)
                    .replace("{key_hash}", &key_hash);
                sqlx::query(&sql)
                    .execute(&db.pool)
                    .await
                    .unwrap_or_else(|e| panic!("fixture of {at} at schema {version}: {e}\n{sql}"));
            }
        }
        db.migrate_up_to(version).await.expect("the earlier schema");
        db.migrate()
            .await
            .unwrap_or_else(|e| panic!("upgrading from {version} to {latest}: {e}"));
        // The build of `version` starting again on the upgraded database (a rolling upgrade's
        // older replica restarting): its migrator accepts the newer schema.
        db.migrate_up_to(version)
            .await
            .unwrap_or_else(|e| panic!("the build of {version} on the schema of {latest}: {e}"));
        for (table, rows) in expected(version) {
            let n = one(&db, &format!("SELECT COUNT(*) FROM {table}")).await;
            assert_eq!(n, rows, "{table} after upgrading from {version}");
        }
        // The backfills: names on memberships (0003), 2FA copied to the membership and to
        // two_factor_at (0013, 0015), session methods (0019).
        assert_eq!(
            one(&db, "SELECT COUNT(*) FROM memberships WHERE member_name IN ('Olga Owner', 'Max Member')").await,
            2,
            "member names after upgrading from {version}"
        );
        if version >= 4 {
            assert_eq!(
                one(&db, "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
                          WHERE u.email = 'max@upgrade.example' AND m.two_factor_at = 150 AND u.two_factor_at = 150").await,
                1,
                "2FA standing after upgrading from {version}"
            );
        }
        if version >= 15 {
            assert_eq!(
                one(&db, "SELECT COUNT(*) FROM users WHERE passkey_at = 500").await,
                1,
                "passkey standing after upgrading from {version}"
            );
        }
        assert_eq!(
            one(
                &db,
                "SELECT COUNT(*) FROM sessions WHERE id_hash = 'session-olga' AND methods = 'pwd'"
            )
            .await,
            1,
            "session methods after upgrading from {version}"
        );
        if version >= 17 {
            assert_eq!(
                one(&db, "SELECT COUNT(*) FROM sessions WHERE id_hash = 'session-max-sso' AND methods = 'sso'").await,
                1
            );
        }
        match donor.backend {
            Backend::Sqlite => {
                let broken: Vec<(String,)> =
                    sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                        .fetch_all(&db.pool)
                        .await
                        .expect("foreign key check");
                assert!(
                    broken.is_empty(),
                    "foreign keys after {version}: {broken:?}"
                );
                assert_eq!(
                    one(&db, "SELECT COUNT(*) FROM member_search").await,
                    2,
                    "member search after upgrading from {version}"
                );
            }
            Backend::Postgres => assert_eq!(
                one(
                    &db,
                    "SELECT COUNT(*) FROM memberships WHERE search_text LIKE '%@upgrade.example'"
                )
                .await,
                2,
                "member search after upgrading from {version}"
            ),
        }
        db.pool.close().await;

        // Today's Gatehouse on it: Olga signs in with her password, sees both members, and
        // her old key works.
        let shared = url.clone();
        let app = TestApp::spawn_with(donor.backend, move |c| c.database_url = Some(shared))
            .await
            .expect("today's Gatehouse on the upgraded database");
        let browser = app.new_client();
        app.sign_in(&browser, "olga@upgrade.example", PASSWORD)
            .await
            .expect_status(200);
        let upgraded_org = app.org_id(&browser).await;
        let members = app
            .call(
                &browser,
                "members/list",
                &[("org_id", &upgraded_org.to_string())],
            )
            .await
            .expect_status(200)
            .json();
        assert_eq!(
            members["members"].as_array().map(Vec::len),
            Some(2),
            "members after upgrading from {version}: {members}"
        );
        if version >= 6 {
            app.api("GET", "/api/v1/me", Some(&key), None)
                .await
                .expect_status(200);
        }
        checked += 1;
    }
    eprintln!(
        "figure: databases at {checked} schema versions ({:?}) upgraded to {latest} on {:?}, every row kept",
        versions, donor.backend
    );
}

/// A rolling upgrade's middle: a newer build has migrated the shared database (a version
/// this build has never heard of, a column and a table it does not know) while replicas of
/// this build still serve. They keep serving, a replica of this build starts on it, and one
/// restarting does too.
async fn replicas_serve_side_by_side_on_a_newer_builds_schema(mut a: TestApp) {
    let (owner, org) = a.new_org("owner@mixed.example", "Mixed").await;
    let key = a
        .create_key(&owner, org, "groups:read groups:write", "30")
        .await;
    a.api(
        "POST",
        "/api/v1/groups",
        Some(&key),
        Some(serde_json::json!({"name": "before", "scans_limit": 1})),
    )
    .await
    .expect_status(201);

    // The newer build's migration, recorded as sqlx records its own.
    let latest = *a.state.db.migration_versions().last().expect("migrations");
    for sql in [
        "ALTER TABLE groups ADD COLUMN future_note TEXT",
        "CREATE TABLE future_things (id BIGINT PRIMARY KEY, group_id BIGINT NOT NULL REFERENCES groups (id))",
        "UPDATE groups SET future_note = 'written by the newer build'",
        "INSERT INTO future_things (id, group_id) SELECT 1, id FROM groups",
    ] {
        sqlx::query(sql)
            .execute(&a.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'a newer build', TRUE, $2, 1)",
    )
    .bind(latest + 1)
    .bind(vec![0u8; 48])
    .execute(&a.state.db.pool)
    .await
    .expect("the newer build's migration row");

    // A replica of this build starts on the newer schema (it runs its migrations at start).
    let b = a.replica().await;
    b.api(
        "POST",
        "/api/v1/groups",
        Some(&key),
        Some(serde_json::json!({"name": "beside", "scans_limit": 2})),
    )
    .await
    .expect_status(201);
    let listed = a
        .api("GET", "/api/v1/groups", Some(&key), None)
        .await
        .expect_status(200)
        .json();
    let names: Vec<&str> = listed["groups"]
        .as_array()
        .map(|groups| groups.iter().filter_map(|g| g["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names.len(), 2, "groups seen by a: {listed}");
    assert!(
        names.contains(&"before") && names.contains(&"beside"),
        "{listed}"
    );

    // The older replica restarting on the newer schema.
    a = a.restart().await;
    a.api("GET", "/api/v1/groups", Some(&key), None)
        .await
        .expect_status(200);
    assert_eq!(
        a.count("SELECT COUNT(*) FROM future_things").await,
        1,
        "the newer build's rows"
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM groups WHERE future_note IS NOT NULL")
            .await,
        1,
        "the newer build's column"
    );
}
