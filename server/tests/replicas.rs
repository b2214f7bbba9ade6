//! Two Gatehouse processes on one database, as replicas behind a load balancer: what one
//! changes, the other enforces on its very next request. Nothing about a key, a session or a
//! membership is cached in a process (SQLite reads on the request's thread see every committed
//! transaction; PostgreSQL reads go to the server), so there is nothing to invalidate.

mod common;

use common::TestApp;

on_both_databases!(a_change_on_one_replica_holds_on_the_other_at_once);

async fn a_change_on_one_replica_holds_on_the_other_at_once(a: TestApp) {
    let shared = a.config().clone();
    let b = TestApp::spawn_with(a.backend, move |c| {
        c.database_url = shared.database_url.clone();
        c.data_dir = shared.data_dir.clone();
        c.secret_key = shared.secret_key.clone();
    })
    .await
    .expect("second replica");
    let (owner, org) = a.new_org("owner@example.com", "Acme").await;
    let (member, member_id) = a
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let key = a
        .create_key(&member, org, "org:read members:read", "30")
        .await;
    let me = b
        .api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["role"], "admin", "{me}");

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

    // Revoked on A: refused on B.
    let keys = a
        .call(&member, "api_keys/view", &[])
        .await
        .expect_status(200)
        .json();
    let key_id = keys["keys"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no key in {keys}"))
        .to_string();
    a.call(&member, "api_keys/revoke", &[("key_id", &key_id)])
        .await
        .expect_status(200);
    b.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_error(401, "api_key_revoked", None);

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
