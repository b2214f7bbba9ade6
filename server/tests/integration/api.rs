//! Personal API keys and the REST API against the real server: the key format and its
//! storage, revocation, expiry, scopes ∩ roles, tenant isolation, the 2FA policy, the rate
//! limit, malformed requests (problem+json 4xx, never 5xx), and the OpenAPI document.

use crate::common;

use common::{Backend, TestApp};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

on_both_databases!(
    a_key_is_shown_once_and_stored_as_its_hash,
    a_typo_is_refused_before_any_database_work,
    revoked_and_expired_keys_stop_working,
    a_request_needs_the_scope_and_the_role,
    removed_owners_keys_end_and_other_orgs_are_not_found,
    the_two_factor_policy_applies_to_keys,
    malformed_requests_get_problem_json_4xx,
    members_invitations_groups_billing_and_audit_over_rest,
    last_used_is_written_at_most_once_a_minute,
    a_groups_integrations_over_rest,
);

const ALL_SCOPES: &str = "org:read members:read members:write groups:read groups:write \
    scans:read scans:write billing:read billing:write audit:read";

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

async fn a_key_is_shown_once_and_stored_as_its_hash(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, "members:read", "30").await;
    assert_eq!(key.len(), 40, "{key}");
    assert!(key.starts_with("gth_"), "{key}");
    // At rest: the SHA-256 of the key, never the key.
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE key_hash = '{}'",
            sha256_hex(&key)
        ))
        .await;
    assert_eq!(stored, 1);
    let plain = app
        .count(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE key_hash = '{key}' OR prefix = '{key}' OR name = '{key}'"
        ))
        .await;
    assert_eq!(plain, 0);
    // The list shows the prefix, never the key again.
    let listed = app
        .call(&owner, "api_keys/view", &[])
        .await
        .expect_status(200);
    assert!(!listed.body.contains(&key), "{}", listed.body);
    let keys = listed.json()["keys"].clone();
    assert_eq!(keys[0]["prefix"], &key[..10], "{keys}");
    assert_eq!(keys[0]["scopes"], json!(["members:read"]), "{keys}");
    assert_eq!(keys[0]["state"], "active", "{keys}");
    // The key works, and says who it acts as.
    let me = app
        .api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["email"], "owner@example.com", "{me}");
    assert_eq!(me["org_id"], org, "{me}");
    assert_eq!(me["role"], "owner", "{me}");
    assert_eq!(me["scopes"], json!(["members:read"]), "{me}");
    // Creation is audited in the organization.
    let audited = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'api_key.created' AND org_id IS NOT NULL")
        .await;
    assert_eq!(audited, 1);
    // Bad input is explained next to its field and creates nothing.
    let org_s = org.to_string();
    for (form, field) in [
        (
            vec![("name", ""), ("scopes", "org:read"), ("expiry", "30")],
            "name",
        ),
        (
            vec![("name", "k"), ("scopes", ""), ("expiry", "30")],
            "scopes",
        ),
        (
            vec![("name", "k"), ("scopes", "org:admin"), ("expiry", "30")],
            "scopes",
        ),
        (
            vec![("name", "k"), ("scopes", "org:read"), ("expiry", "12")],
            "expiry",
        ),
    ] {
        let mut form = form;
        form.push(("org_id", &org_s));
        app.call(&owner, "api_keys/create", &form)
            .await
            .expect_error(422, "invalid_input", Some(field));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys").await, 1);
}

async fn a_typo_is_refused_before_any_database_work(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, "org:read", "30").await;
    let mut typo = key.clone().into_bytes();
    typo[12] = if typo[12] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).expect("ascii");
    app.api("GET", "/api/v1/me", Some(&typo), None)
        .await
        .expect_error(401, "api_key_invalid", None);
    // Without a database, a typo is still refused the same way: the checksum alone decides.
    // (A well-formed key needs the database: on PostgreSQL, whose pool is closed, it fails
    // differently below; SQLite reads keys on the request's own thread, outside the pool.)
    app.state.db.pool.close().await;
    let resp = app
        .api("GET", "/api/v1/me", Some(&typo), None)
        .await
        .expect_error(401, "api_key_invalid", None);
    assert_eq!(
        resp.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{}",
        resp.request
    );
    let well_formed = app.api("GET", "/api/v1/me", Some(&key), None).await;
    if app.state.db.backend == app::db::Backend::Postgres {
        well_formed.expect_error(503, "database_unavailable", None);
    } else {
        well_formed.expect_status(200);
    }
}

async fn revoked_and_expired_keys_stop_working(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, "org:read", "7").await;
    let other = app.create_key(&owner, org, "org:read", "never").await;
    app.api("GET", "/api/v1/org", Some(&key), None)
        .await
        .expect_status(200);
    let keys = app.call(&owner, "api_keys/view", &[]).await.json()["keys"].clone();
    let id = keys
        .as_array()
        .and_then(|k| k.iter().find(|k| k["prefix"] == key[..10]))
        .and_then(|k| k["id"].as_i64())
        .unwrap_or_else(|| panic!("key not listed: {keys}"));
    app.call(&owner, "api_keys/revoke", &[("key_id", &id.to_string())])
        .await
        .expect_status(200);
    app.api("GET", "/api/v1/org", Some(&key), None)
        .await
        .expect_error(401, "api_key_revoked", None);
    // Revoking twice, or someone else's key, finds nothing.
    app.call(&owner, "api_keys/revoke", &[("key_id", &id.to_string())])
        .await
        .expect_error(404, "not_found", None);
    let (stranger, _) = app.new_org("stranger@example.com", "Other").await;
    let others_id = app.call(&owner, "api_keys/view", &[]).await.json()["keys"][0]["id"]
        .as_i64()
        .expect("id");
    app.call(
        &stranger,
        "api_keys/revoke",
        &[("key_id", &others_id.to_string())],
    )
    .await
    .expect_error(404, "not_found", None);
    // Expiry: a 7-day key works on day 6 and not on day 8; a key without expiry still works.
    let week = app.create_key(&owner, org, "org:read", "7").await;
    app.clock.advance(Duration::from_secs(6 * 24 * 3600));
    app.api("GET", "/api/v1/org", Some(&week), None)
        .await
        .expect_status(200);
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    app.api("GET", "/api/v1/org", Some(&week), None)
        .await
        .expect_error(401, "api_key_expired", None);
    app.api("GET", "/api/v1/org", Some(&other), None)
        .await
        .expect_status(200);
    // No key at all, or another scheme.
    app.api("GET", "/api/v1/org", None, None)
        .await
        .expect_error(401, "api_key_missing", None);
    app.api_raw(
        "GET",
        "/api/v1/org",
        &[("authorization", "Basic b3duZXI6cHc=")],
        "",
    )
    .await
    .expect_error(401, "api_key_invalid", None);
}

async fn a_request_needs_the_scope_and_the_role(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (admin, admin_id) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let (_, user_id) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    // Scope missing: 403 insufficient_scope, and nothing changes.
    let reader = app.create_key(&admin, org, "members:read", "30").await;
    app.api(
        "PATCH",
        &format!("/api/v1/members/{user_id}"),
        Some(&reader),
        Some(json!({"role": "team_leader"})),
    )
    .await
    .expect_error(403, "insufficient_scope", None);
    // Scope and role: allowed.
    let writer = app
        .create_key(&admin, org, "members:read members:write", "30")
        .await;
    app.api(
        "PATCH",
        &format!("/api/v1/members/{user_id}"),
        Some(&writer),
        Some(json!({"role": "team_leader"})),
    )
    .await
    .expect_status(204);
    let changed = app
        .count(&format!(
            "SELECT COUNT(*) FROM memberships WHERE user_id = {user_id} AND role = 'team_leader'"
        ))
        .await;
    assert_eq!(changed, 1);
    // The role's own limits still hold: an Admin cannot grant Owner.
    app.api(
        "PATCH",
        &format!("/api/v1/members/{user_id}"),
        Some(&writer),
        Some(json!({"role": "owner"})),
    )
    .await
    .expect_error(403, "forbidden", None);
    // Demoting the key's owner shrinks the key's powers at once.
    app.call(
        &owner,
        "members/role",
        &[
            ("org_id", &org.to_string()),
            ("user_id", &admin_id.to_string()),
            ("role", "user"),
        ],
    )
    .await
    .expect_status(200);
    app.api(
        "PATCH",
        &format!("/api/v1/members/{user_id}"),
        Some(&writer),
        Some(json!({"role": "user"})),
    )
    .await
    .expect_error(403, "forbidden", None);
    let me = app
        .api("GET", "/api/v1/me", Some(&writer), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["role"], "user", "{me}");
    // Scopes the role could never use are not offered, and refused if sent anyway.
    let view = app.call(&admin, "api_keys/view", &[]).await.json();
    let offered = view["orgs"][0]["scopes"].clone();
    assert_eq!(
        offered,
        json!([
            "org:read",
            "members:read",
            "groups:read",
            "scans:read",
            "scans:write"
        ]),
        "{view}"
    );
    app.call(
        &admin,
        "api_keys/create",
        &[
            ("name", "k"),
            ("org_id", &org.to_string()),
            ("scopes", "audit:read"),
            ("expiry", "30"),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("scopes"));
    // Audit needs audit:read AND a role that sees the log.
    let owner_key = app.create_key(&owner, org, ALL_SCOPES, "30").await;
    app.api("GET", "/api/v1/audit-events", Some(&owner_key), None)
        .await
        .expect_status(200);
    app.api("GET", "/api/v1/audit-events", Some(&writer), None)
        .await
        .expect_error(403, "insufficient_scope", None);
}

async fn removed_owners_keys_end_and_other_orgs_are_not_found(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (admin, admin_id) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let key = app
        .create_key(
            &admin,
            org,
            "members:read members:write groups:read groups:write",
            "30",
        )
        .await;
    // Another organization and what is in it.
    let (other_owner, other_org) = app.new_org("other@example.com", "Other").await;
    let (_, outsider_id) = app
        .add_member(&other_owner, other_org, "outsider@example.com", "user")
        .await;
    let other_group = app
        .call(
            &other_owner,
            "groups/create",
            &[
                ("org_id", &other_org.to_string()),
                ("name", "Theirs"),
                ("scans_limit", "1"),
            ],
        )
        .await
        .expect_status(200)
        .json();
    let other_group = other_group.as_i64().expect("group id");
    for (method, path, body) in [
        ("GET", format!("/api/v1/groups/{other_group}"), None),
        (
            "PATCH",
            format!("/api/v1/groups/{other_group}"),
            Some(json!({"name": "Mine"})),
        ),
        ("DELETE", format!("/api/v1/groups/{other_group}"), None),
        (
            "PATCH",
            format!("/api/v1/members/{outsider_id}"),
            Some(json!({"role": "admin"})),
        ),
        ("DELETE", format!("/api/v1/members/{outsider_id}"), None),
    ] {
        app.api(method, &path, Some(&key), body)
            .await
            .expect_error(404, "not_found", None);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM groups WHERE name = 'Theirs'")
            .await,
        1
    );
    // Removing the key's owner ends the key at once, and a later re-invitation does not
    // bring it back.
    app.api("GET", "/api/v1/members", Some(&key), None)
        .await
        .expect_status(200);
    app.call(
        &owner,
        "members/remove",
        &[
            ("org_id", &org.to_string()),
            ("user_id", &admin_id.to_string()),
        ],
    )
    .await
    .expect_status(200);
    app.api("GET", "/api/v1/members", Some(&key), None)
        .await
        .expect_error(401, "api_key_invalid", None);
    app.add_existing_member(&owner, org, &admin, "admin@example.com", "admin")
        .await;
    app.api("GET", "/api/v1/members", Some(&key), None)
        .await
        .expect_error(401, "api_key_revoked", None);
}

async fn the_two_factor_policy_applies_to_keys(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (member, _) = app
        .add_member(&owner, org, "member@example.com", "user")
        .await;
    let key = app.create_key(&member, org, "members:read", "30").await;
    app.api("GET", "/api/v1/members", Some(&key), None)
        .await
        .expect_status(200);
    // The Owner's policy (applied through its own tested flow elsewhere) with its deadline
    // passed: the member has no 2FA.
    let now = app.state.now();
    sqlx::query(
        "UPDATE organizations SET require_two_factor = 1, two_factor_since = $1, two_factor_deadline = $1 WHERE id = $2",
    )
    .bind(now - 10)
    .bind(org)
    .execute(&app.state.db.pool)
    .await
    .expect("policy set");
    // On PostgreSQL the key cache hears of a change made outside a request from the trigger's
    // notification, which arrives after the commit: wait for it, as a request's own change does.
    app.state.key_cache.settle(&app.state.db).await;
    app.api("GET", "/api/v1/members", Some(&key), None)
        .await
        .expect_error(403, "two_factor_required", None);
    app.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_error(403, "two_factor_required", None);
}

async fn malformed_requests_get_problem_json_4xx(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, ALL_SCOPES, "30").await;
    let bearer = format!("Bearer {key}");
    let auth = ("authorization", bearer.as_str());
    let json_type = ("content-type", "application/json");
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(200 * 1024));
    // (method, path, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        String,
        Vec<(&'a str, &'a str)>,
        String,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth, json_type],
            "{\"name\": ".into(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth, json_type],
            "{\"name\": \"A\", \"scans_limit\": 1, \"colour\": \"red\"}".into(),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth, json_type],
            "{\"name\": \"A\"}".into(),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth, json_type],
            "[1, 2]".into(),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth, ("content-type", "text/plain")],
            "{}".into(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth],
            "{}".into(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth, json_type],
            huge,
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/api/v1/groups".into(),
            vec![auth, json_type],
            "{\"name\": \"A\", \"scans_limit\": 0}".into(),
            422,
            "invalid_input",
        ),
        (
            "GET",
            "/api/v1/members?limit=0".into(),
            vec![auth],
            String::new(),
            422,
            "invalid_input",
        ),
        (
            "GET",
            "/api/v1/members?limit=201".into(),
            vec![auth],
            String::new(),
            422,
            "invalid_input",
        ),
        (
            "GET",
            "/api/v1/members?limit=ten".into(),
            vec![auth],
            String::new(),
            422,
            "invalid_input",
        ),
        (
            "GET",
            "/api/v1/members?cursor=garbage".into(),
            vec![auth],
            String::new(),
            422,
            "invalid_input",
        ),
        (
            "GET",
            "/api/v1/members?colour=red".into(),
            vec![auth],
            String::new(),
            422,
            "invalid_input",
        ),
        (
            "GET",
            "/api/v1/groups/abc".into(),
            vec![auth],
            String::new(),
            404,
            "not_found",
        ),
        (
            "GET",
            "/api/v1/groups/99999999999999999999".into(),
            vec![auth],
            String::new(),
            404,
            "not_found",
        ),
        (
            "GET",
            "/api/v1/nothing-here".into(),
            vec![auth],
            String::new(),
            404,
            "not_found",
        ),
        (
            "POST",
            "/api/v1/me".into(),
            vec![auth, json_type],
            "{}".into(),
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/api/v1/me".into(),
            vec![("authorization", "Bearer ")],
            String::new(),
            401,
            "api_key_invalid",
        ),
        (
            "GET",
            "/api/v1/me".into(),
            vec![("authorization", "Bearer gth_short")],
            String::new(),
            401,
            "api_key_invalid",
        ),
        (
            "GET",
            "/api/v1/me".into(),
            vec![("authorization", "gth_no_scheme")],
            String::new(),
            401,
            "api_key_invalid",
        ),
    ];
    for (method, path, headers, body, status, code) in cases {
        let resp = app
            .api_raw(method, &path, &headers, &body)
            .await
            .expect_error(status, code, None);
        assert_eq!(
            resp.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            resp.request
        );
        assert_eq!(resp.json()["status"], status, "{}", resp.body);
    }
    // Nothing was created by any of them.
    assert_eq!(app.count("SELECT COUNT(*) FROM groups").await, 0);
    // 401s say how to authenticate.
    let resp = app.api("GET", "/api/v1/me", None, None).await;
    assert!(
        resp.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{:?}",
        resp.headers
    );
}

async fn members_invitations_groups_billing_and_audit_over_rest(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    app.set_plan(&owner, org, "team", "20").await;
    let key = app.create_key(&owner, org, ALL_SCOPES, "30").await;
    let k = Some(key.as_str());
    // Invitations: create, list, revoke.
    let sent = app
        .api(
            "POST",
            "/api/v1/invitations",
            k,
            Some(json!({"name": "Bea", "email": "bea@example.com", "role": "user"})),
        )
        .await
        .expect_status(201)
        .json();
    assert_eq!(sent["emailed"], false, "{sent}");
    assert!(
        sent["link"]
            .as_str()
            .is_some_and(|l| l.contains("/invite/")),
        "{sent}"
    );
    app.api(
        "POST",
        "/api/v1/invitations",
        k,
        Some(json!({"name": "Bea", "email": "not-an-email", "role": "user"})),
    )
    .await
    .expect_error(422, "invalid_input", Some("email"));
    let list = app
        .api("GET", "/api/v1/invitations", k, None)
        .await
        .expect_status(200)
        .json();
    let inv_id = list["invitations"][0]["id"].as_i64().expect("id");
    assert_eq!(list["invitations"][0]["email"], "bea@example.com", "{list}");
    app.api("DELETE", &format!("/api/v1/invitations/{inv_id}"), k, None)
        .await
        .expect_status(204);
    let list = app.api("GET", "/api/v1/invitations", k, None).await.json();
    assert_eq!(list["invitations"], json!([]), "{list}");

    // Members: pages of one, by cursor.
    for email in ["a@example.com", "b@example.com"] {
        app.add_member(&owner, org, email, "user").await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/members?limit=1&cursor={}", urlencode(c)),
            None => "/api/v1/members?limit=1".to_string(),
        };
        let page = app
            .api("GET", &path, k, None)
            .await
            .expect_status(200)
            .json();
        let members = page["members"].as_array().cloned().unwrap_or_default();
        assert_eq!(members.len(), 1, "{page}");
        seen.push(members[0]["email"].as_str().unwrap_or_default().to_string());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        ["a@example.com", "b@example.com", "owner@example.com"]
    );
    let found = app
        .api("GET", "/api/v1/members?q=b%40ex", k, None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        found["members"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    let b_id = found["members"][0]["user_id"].as_i64().expect("id");

    // Groups: create with a member, read, change, membership, delete.
    let group = app
        .api(
            "POST",
            "/api/v1/groups",
            k,
            Some(json!({"name": "Blue", "description": "Defence", "scans_limit": 4, "member_ids": [b_id]})),
        )
        .await
        .expect_status(201)
        .json();
    let gid = group["id"].as_i64().expect("id");
    assert_eq!(group["member_count"], 1, "{group}");
    app.api(
        "POST",
        "/api/v1/groups",
        k,
        Some(json!({"name": "BLUE", "scans_limit": 1})),
    )
    .await
    .expect_error(409, "conflict", Some("name"));
    let changed = app
        .api(
            "PATCH",
            &format!("/api/v1/groups/{gid}"),
            k,
            Some(json!({"scans_limit": 7})),
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(changed["scans_limit"], 7, "{changed}");
    assert_eq!(changed["description"], "Defence", "{changed}");
    app.api(
        "PATCH",
        &format!("/api/v1/groups/{gid}"),
        k,
        Some(json!({"scans_limit": 101})),
    )
    .await
    .expect_error(409, "conflict", Some("scans_limit"));
    let owner_id = app.user_id(&owner).await;
    app.api(
        "PUT",
        &format!("/api/v1/groups/{gid}/members/{owner_id}"),
        k,
        None,
    )
    .await
    .expect_status(204);
    app.api(
        "DELETE",
        &format!("/api/v1/groups/{gid}/members/{b_id}"),
        k,
        None,
    )
    .await
    .expect_status(204);
    let got = app
        .api("GET", &format!("/api/v1/groups/{gid}"), k, None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(got["members"][0]["user_id"], owner_id, "{got}");
    assert_eq!(got["member_count"], 1, "{got}");
    let listed = app.api("GET", "/api/v1/groups?q=blu", k, None).await.json();
    assert_eq!(listed["groups"][0]["name"], "Blue", "{listed}");
    app.api("DELETE", &format!("/api/v1/groups/{gid}"), k, None)
        .await
        .expect_status(204);
    app.api("GET", &format!("/api/v1/groups/{gid}"), k, None)
        .await
        .expect_error(404, "not_found", None);

    // Billing.
    let billing = app
        .api("GET", "/api/v1/billing", k, None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(billing["plan"], "team", "{billing}");
    let billing = app
        .api("PATCH", "/api/v1/billing", k, Some(json!({"seats": 25})))
        .await
        .expect_status(200)
        .json();
    assert_eq!(billing["seats"], 25, "{billing}");
    assert_eq!(billing["plan"], "team", "{billing}");
    app.api("PATCH", "/api/v1/billing", k, Some(json!({"plan": "gold"})))
        .await
        .expect_error(422, "invalid_input", Some("plan"));

    // Organization, and the audit log of all of the above, by the key's owner.
    let org_info = app
        .api("GET", "/api/v1/org", k, None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(org_info["name"], "Org", "{org_info}");
    assert_eq!(org_info["members"], 3, "{org_info}");
    let events = app
        .api(
            "GET",
            "/api/v1/audit-events?action=group.&limit=200",
            k,
            None,
        )
        .await
        .expect_status(200)
        .json();
    let actions: Vec<&str> = events["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for expected in ["group.created", "group.updated", "group.deleted"] {
        assert!(actions.contains(&expected), "{expected} missing: {events}");
    }
    assert!(
        events["events"][0]["actor"]
            .as_str()
            .is_some_and(|a| a.contains("owner@example.com")),
        "{events}"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn last_used_is_written_at_most_once_a_minute(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, "org:read", "30").await;
    let last_used = || async {
        let row: (Option<i64>, Option<String>, Option<String>) =
            sqlx::query_as("SELECT last_used_at, last_used_ip, last_used_agent FROM api_keys")
                .fetch_one(&app.state.db.pool)
                .await
                .expect("row");
        row
    };
    // The write happens after the answer: wait for it (a few milliseconds), up to 5 s.
    let written_at = |at: i64| async move {
        for _ in 0..500 {
            if last_used().await.0 == Some(at) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("last_used_at never became {at}: {:?}", last_used().await);
    };
    assert_eq!(last_used().await, (None, None, None));
    app.api_get_as(&key, "deploy-bot/1.2", "/api/v1/me")
        .await
        .expect_status(200);
    let first = app.now();
    written_at(first).await;
    let (_, ip, agent) = last_used().await;
    assert_eq!(ip.as_deref(), Some("127.0.0.1"), "the address it came from");
    assert_eq!(
        agent.as_deref(),
        Some("deploy-bot/1.2"),
        "the client it said it was"
    );
    app.clock.advance(Duration::from_secs(30));
    app.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        last_used().await.0,
        Some(first),
        "not rewritten within a minute"
    );
    app.clock.advance(Duration::from_secs(31));
    app.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200);
    written_at(first + 61).await;
}

/// The per-key budget: the request after it gets 429 with Retry-After; another key is not
/// affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_per_key() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.api_rate_limit = 5)
        .await
        .expect("app");
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, "org:read", "30").await;
    let other = app.create_key(&owner, org, "org:read", "30").await;
    for _ in 0..5 {
        app.api("GET", "/api/v1/me", Some(&key), None)
            .await
            .expect_status(200);
    }
    let limited = app
        .api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_error(429, "rate_limited", None);
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", limited.headers));
    assert!((1..=60).contains(&retry), "{retry}");
    app.api("GET", "/api/v1/me", Some(&other), None)
        .await
        .expect_status(200);
}

/// The OpenAPI document is 3.1, its references resolve, operationIds are unique, and every
/// operation it lists is served (a request without a key reaches the route and gets 401, not 404 or 405).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route_served() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let doc = app
        .api("GET", "/api/v1/openapi.json", None, None)
        .await
        .expect_status(200)
        .json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let schemas = doc["components"]["schemas"].clone();
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap_or_default();
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(
            schemas.get(name).is_some(),
            "$ref {target} does not resolve"
        );
    }
    let paths = doc["paths"].as_object().expect("paths").clone();
    let mut operations = 0;
    let mut operation_ids = std::collections::HashMap::new();
    for (path, item) in &paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, op) in item.as_object().expect("path item") {
            operations += 1;
            // Client generators name their methods after operationId: it must be unique.
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            if let Some(other) = operation_ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId {id} of {method} {path} is also that of {other}");
            }
            assert!(
                op["responses"]["401"].is_object() && op["responses"]["422"].is_object(),
                "{method} {path} documents no problem responses: {op}"
            );
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "1" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let body = matches!(method.as_str(), "post" | "put" | "patch").then(|| json!({}));
            app.api(&method.to_uppercase(), &concrete, None, body)
                .await
                .expect_error(401, "api_key_missing", None);
        }
    }
    // The router's own list, from the same source: the document is generated from the
    // routes the router is built from (utoipa-axum), so both directions hold by construction;
    // this count catches a route added outside it.
    assert_eq!(
        operations,
        30,
        "operations: {}",
        serde_json::to_string_pretty(&paths).unwrap_or_default()
    );
}

async fn a_groups_integrations_over_rest(app: TestApp) {
    let mut receiver = common::receiver::start_receiver(&[]).await;
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let group = app.new_group(&owner, org, "Hooked", "1", &[]).await;
    let key = app
        .create_key(&owner, org, "groups:read groups:write", "30")
        .await;
    let k = Some(key.as_str());
    let path = format!("/api/v1/groups/{group}/integrations");
    let secret = "a-signing-secret-of-some-length";
    app.api(
        "PUT",
        &format!("{path}/webhook"),
        k,
        Some(json!({"enabled": true, "url": receiver.url, "secret": secret})),
    )
    .await
    .expect_status(204);
    // Switched on without its settings, an unknown kind, a short secret: refused.
    app.api(
        "PUT",
        &format!("{path}/slack"),
        k,
        Some(json!({"enabled": true})),
    )
    .await
    .expect_error(422, "invalid_input", Some("slack_url"));
    app.api(
        "PUT",
        &format!("{path}/pager"),
        k,
        Some(json!({"enabled": true})),
    )
    .await
    .expect_error(404, "not_found", None);
    app.api(
        "PUT",
        &format!("{path}/webhook"),
        k,
        Some(json!({"enabled": true, "url": receiver.url, "secret": "short"})),
    )
    .await
    .expect_error(422, "invalid_input", Some("webhook_secret"));
    let got = app.api("GET", &path, k, None).await.expect_status(200);
    assert!(!got.body.contains(secret), "{}", got.body);
    let view = got.json();
    assert_eq!(view["webhook_enabled"], true, "{view}");
    assert_eq!(view["webhook_secret_set"], true, "{view}");
    assert_eq!(view["slack_enabled"], false, "{view}");
    // A test event, delivered now to the receiver.
    let delivery = app
        .api("POST", &format!("{path}/webhook/test"), k, None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["response_status"], 200, "{delivery}");
    let (headers, _) = common::receiver::next_request(&mut receiver).await;
    assert!(headers.contains_key("x-gatehouse-signature"), "{headers:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'group.integration_saved'")
            .await,
        1
    );
}
