//! Two Gatehouse processes on one database, as replicas behind a load balancer: what one
//! changes, the other enforces on its very next request. Sessions and memberships are read
//! from the database on every request. API keys are cached per process on PostgreSQL and
//! forgotten on its notifications (`app/src/api_keys/server/cache.rs`); these tests make sure
//! the cache is in use (so they would fail if it kept a row too long) and that it is off while
//! its listening connection is down. On SQLite nothing is cached.

use crate::common;

use common::{Backend, TestApp};
use std::time::Duration;

on_both_databases!(
    a_change_on_one_replica_holds_on_the_other_at_once,
    a_change_made_outside_gatehouse_reaches_the_cache,
    the_cache_is_off_while_its_listener_is_down
);

/// On PostgreSQL, the key's row was served from `app`'s cache (so the test exercises it).
fn assert_cached(app: &TestApp) {
    if app.backend == Backend::Postgres {
        assert!(
            !app.state.key_cache.is_empty(),
            "the key was not cached: {:?}",
            app.state.key_cache
        );
    } else {
        assert!(app.state.key_cache.is_empty(), "SQLite caches nothing");
    }
}

/// An Owner's organization with an Admin who holds a key: (owner, org, admin, admin's id, key).
async fn admin_with_key(app: &TestApp) -> (reqwest::Client, i64, reqwest::Client, i64, String) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let (member, member_id) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let key = app
        .create_key(&member, org, "org:read members:read", "30")
        .await;
    (owner, org, member, member_id, key)
}

/// `GET /api/v1/me` on `app` answers the Admin, and (on PostgreSQL) from `app`'s cache.
async fn me_is_cached_admin(app: &TestApp, key: &str) {
    let me = app
        .api("GET", "/api/v1/me", Some(key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["role"], "admin", "{me}");
    assert_cached(app);
}

/// The member revokes their key on A; B refuses it on its next request.
async fn revoke_on_a_refused_on_b(a: &TestApp, b: &TestApp, member: &reqwest::Client, key: &str) {
    let keys = a
        .call(member, "api_keys/view", &[])
        .await
        .expect_status(200)
        .json();
    let key_id = keys["keys"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no key in {keys}"))
        .to_string();
    a.call(member, "api_keys/revoke", &[("key_id", &key_id)])
        .await
        .expect_status(200);
    b.api("GET", "/api/v1/me", Some(key), None)
        .await
        .expect_error(401, "api_key_revoked", None);
}

async fn a_change_on_one_replica_holds_on_the_other_at_once(a: TestApp) {
    let b = a.replica().await;
    if a.backend == Backend::Postgres {
        a.cache_live(true).await;
        b.cache_live(true).await;
    }
    let (owner, org, member, member_id, key) = admin_with_key(&a).await;
    me_is_cached_admin(&b, &key).await;

    // Demoted on A: B answers with the new role.
    let (org_s, member_s) = (org.to_string(), member_id.to_string());
    a.call(
        &owner,
        "members/role",
        &[("org_id", &org_s), ("user_id", &member_s), ("role", "user")],
    )
    .await
    .expect_status(200);
    let me = b
        .api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["role"], "user", "{me}");
    assert_cached(&b);

    // Revoked on A: refused on B.
    revoke_on_a_refused_on_b(&a, &b, &member, &key).await;

    // A session signed out on A is signed out on B; a removed member is refused on B.
    let cookie = a
        .sign_in(&a.new_client(), "admin@example.com", common::PASSWORD)
        .await
        .expect_status(200)
        .session_cookie()
        .expect("session cookie");
    let on_b = [("cookie", format!("gatehouse_session={cookie}"))];
    let on_b: Vec<(&str, &str)> = on_b.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.call_with(
        &b.new_client(),
        "members/list",
        &[("org_id", &org_s)],
        &on_b,
    )
    .await
    .expect_status(200);
    a.call(
        &owner,
        "members/remove",
        &[("org_id", &org_s), ("user_id", &member_s)],
    )
    .await
    .expect_status(200);
    b.call_with(
        &b.new_client(),
        "members/list",
        &[("org_id", &org_s)],
        &on_b,
    )
    .await
    .expect_error(404, "not_found", None);
}

/// A change made with SQL (another tool, an operator's script) is forgotten too: the
/// triggers notify, not Gatehouse's code. `settle` waits until this process has applied every
/// notification committed before it.
async fn a_change_made_outside_gatehouse_reaches_the_cache(a: TestApp) {
    if a.backend == Backend::Postgres {
        a.cache_live(true).await;
    }
    let (_owner, org, _member, member_id, key) = admin_with_key(&a).await;
    me_is_cached_admin(&a, &key).await;

    let steps: [(&str, &str, Option<&str>); 4] = [
        (
            "UPDATE memberships SET role = 'billing_manager' WHERE user_id = $1",
            "billing_manager",
            None,
        ),
        (
            "UPDATE users SET name = 'Renamed' WHERE id = $1",
            "billing_manager",
            None,
        ),
        (
            "UPDATE users SET disabled_at = 1 WHERE id = $1",
            "",
            Some("account_disabled"),
        ),
        (
            "UPDATE users SET disabled_at = NULL WHERE id = $1",
            "billing_manager",
            None,
        ),
    ];
    for (sql, role, refused) in steps {
        sqlx::query(sql)
            .bind(member_id)
            .execute(&a.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        a.state.key_cache.settle(&a.state.db).await;
        let answer = a.api("GET", "/api/v1/me", Some(&key), None).await;
        match refused {
            Some(code) => {
                answer.expect_error(403, code, None);
            }
            None => {
                let me = answer.expect_status(200).json();
                assert_eq!(me["role"], role, "after {sql}: {me}");
                if sql.contains("name") {
                    assert_eq!(me["name"], "Renamed", "after {sql}: {me}");
                }
            }
        }
    }
    // The organization's 2FA policy, enforced with no grace period.
    let org_s = org.to_string();
    sqlx::query(
        "UPDATE organizations SET require_two_factor = 1, two_factor_since = 0,
         two_factor_deadline = 0 WHERE id = $1",
    )
    .bind(org)
    .execute(&a.state.db.pool)
    .await
    .unwrap_or_else(|e| panic!("policy of {org_s}: {e}"));
    a.state.key_cache.settle(&a.state.db).await;
    a.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_error(403, "two_factor_required", None);
}

/// While the listening connection is down, a replica reads every key from the database (it
/// cannot know what changed), and it uses the cache again once it listens again.
async fn the_cache_is_off_while_its_listener_is_down(a: TestApp) {
    let b = a.replica().await;
    let (_owner, _org, member, _, key) = admin_with_key(&a).await;
    if b.backend == Backend::Postgres {
        b.cache_live(true).await;
    }
    me_is_cached_admin(&b, &key).await;
    if b.backend == Backend::Sqlite {
        return;
    }

    // PostgreSQL ends the listening connections of this database (A's and B's).
    let ended = a
        .count(&format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = '{}'",
            app::api_keys::server::cache::APPLICATION_NAME
        ))
        .await;
    assert!(ended >= 1, "no listening connection found to end");
    // B notices when its connection closes (it may already be listening again): whichever,
    // it has forgotten every key.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !b.state.key_cache.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B kept its cached keys after its listener was ended"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    revoke_on_a_refused_on_b(&a, &b, &member, &key).await;

    // Listening again, B caches again.
    b.cache_live(true).await;
    b.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_error(401, "api_key_revoked", None);
    assert_cached(&b);
}
