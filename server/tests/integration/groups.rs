//! Groups and their integrations against the real server: CRUD, names, limits, who may do
//! what (Team Leaders on their own groups), tenant isolation, and webhook deliveries to a
//! receiver running in the test — signed, retried, and kept across a restart.

use crate::common;

use axum::http::HeaderMap;
use common::receiver::{next_request, start_receiver, start_receiver_on};
use common::TestApp;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::time::Duration;

on_both_databases!(
    owners_and_admins_create_edit_and_delete_groups,
    names_are_unique_per_org_and_limits_are_bounded,
    team_leaders_edit_their_own_groups_only,
    groups_of_another_org_are_not_found,
    group_events_reach_a_webhook_signed_and_retried,
    queued_deliveries_survive_a_restart,
);

async fn create(
    app: &TestApp,
    client: &reqwest::Client,
    org: i64,
    name: &str,
    extra: &[(&str, &str)],
) -> common::Resp {
    app.group_form(client, org, name, "3", extra).await
}

async fn group_id(
    app: &TestApp,
    client: &reqwest::Client,
    org: i64,
    name: &str,
    extra: &[(&str, &str)],
) -> i64 {
    app.new_group(client, org, name, "3", extra).await
}

async fn get(app: &TestApp, client: &reqwest::Client, org: i64, group: i64) -> common::Resp {
    app.call(
        client,
        "groups/get",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &group.to_string()),
        ],
    )
    .await
}

async fn owners_and_admins_create_edit_and_delete_groups(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    app.set_plan(&owner, org, "team", "50").await;
    let (_, ada) = app.add_member(&owner, org, "ada@example.com", "user").await;
    let (_, bob) = app.add_member(&owner, org, "bob@example.com", "user").await;
    let members = format!("{ada},{bob}");
    let id = group_id(
        &app,
        &owner,
        org,
        "Red Team",
        &[("description", "Offence"), ("member_ids", &members)],
    )
    .await;
    let g = get(&app, &owner, org, id).await.expect_status(200).json();
    assert_eq!(g["name"], "Red Team", "{g}");
    assert_eq!(g["scans_limit"], 3, "{g}");
    assert_eq!(g["member_count"], 2, "{g}");
    // The members table names each member's groups.
    let members = app
        .call(
            &owner,
            "members/list",
            &[("org_id", &org.to_string()), ("q", "ada")],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        members["members"][0]["groups"],
        serde_json::json!(["Red Team"]),
        "{members}"
    );
    // The list shows it, with its member count; search finds it by part of its name.
    let list = app
        .call(
            &owner,
            "groups/list",
            &[("org_id", &org.to_string()), ("q", "red")],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(list["groups"][0]["member_count"], 2, "{list}");
    let none = app
        .call(
            &owner,
            "groups/list",
            &[("org_id", &org.to_string()), ("q", "blue")],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(none["groups"], serde_json::json!([]), "{none}");
    // Edit.
    app.call(
        &owner,
        "groups/update",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &id.to_string()),
            ("name", "Red Team"),
            ("description", "Offence"),
            ("scans_limit", "7"),
        ],
    )
    .await
    .expect_status(200);
    app.call(
        &owner,
        "groups/members/remove",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &id.to_string()),
            ("user_id", &bob.to_string()),
        ],
    )
    .await
    .expect_status(200);
    let g = get(&app, &owner, org, id).await.expect_status(200).json();
    assert_eq!(
        (g["scans_limit"].as_i64(), g["member_count"].as_i64()),
        (Some(7), Some(1)),
        "{g}"
    );
    // Delete needs the name typed.
    app.call(
        &owner,
        "groups/delete",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &id.to_string()),
            ("confirm", "red team"),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("confirm"));
    app.call(
        &owner,
        "groups/delete",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &id.to_string()),
            ("confirm", "Red Team"),
        ],
    )
    .await
    .expect_status(200);
    get(&app, &owner, org, id)
        .await
        .expect_error(404, "not_found", None);
    let actions: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_events WHERE action LIKE 'group.%' ORDER BY id")
            .fetch_all(&app.state.db.pool)
            .await
            .expect("audit");
    assert_eq!(
        actions.into_iter().map(|a| a.0).collect::<Vec<_>>(),
        [
            "group.created",
            "group.updated",
            "group.member_removed",
            "group.deleted"
        ]
    );
}

async fn names_are_unique_per_org_and_limits_are_bounded(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    group_id(&app, &owner, org, "Blue Team", &[]).await;
    create(&app, &owner, org, "  blue TEAM ", &[])
        .await
        .expect_error(409, "conflict", Some("name"));
    create(&app, &owner, org, "", &[])
        .await
        .expect_error(422, "invalid_input", Some("name"));
    let org_s = org.to_string();
    for bad in ["0", "1001", "-3", "many", "2.5"] {
        app.call(
            &owner,
            "groups/create",
            &[("org_id", &org_s), ("name", "Green"), ("scans_limit", bad)],
        )
        .await
        .expect_error(422, "invalid_input", Some("scans_limit"));
    }
    // The Free plan caps the limit at 5; Enterprise allows 1,000.
    let capped = app
        .call(
            &owner,
            "groups/create",
            &[("org_id", &org_s), ("name", "Green"), ("scans_limit", "6")],
        )
        .await
        .expect_error(409, "conflict", Some("scans_limit"));
    assert!(capped.body.contains("Free plan"), "{}", capped.body);
    app.call(
        &owner,
        "billing/update",
        &[
            ("org_id", &org_s),
            ("plan", "enterprise"),
            ("seats", "50"),
            ("billing_email", ""),
        ],
    )
    .await
    .expect_status(200);
    app.call(
        &owner,
        "groups/create",
        &[
            ("org_id", &org_s),
            ("name", "Green"),
            ("scans_limit", "1000"),
        ],
    )
    .await
    .expect_status(200);
    // A webhook switched on needs a URL and a secret; bad URLs are refused.
    create(&app, &owner, org, "Hooks", &[("webhook_enabled", "on")])
        .await
        .expect_error(422, "invalid_input", Some("webhook_url"));
    create(
        &app,
        &owner,
        org,
        "Hooks",
        &[("webhook_enabled", "on"), ("webhook_url", "ftp://x")],
    )
    .await
    .expect_error(422, "invalid_input", Some("webhook_url"));
    create(
        &app,
        &owner,
        org,
        "Hooks",
        &[
            ("webhook_enabled", "on"),
            ("webhook_url", "https://example.com/h"),
            ("webhook_secret", "short"),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("webhook_secret"));
    create(
        &app,
        &owner,
        org,
        "Hooks",
        &[
            ("email_enabled", "on"),
            ("email_recipients", "a@example.com, nope"),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("email_recipients"));
    // Same name in another org is fine.
    let (other, other_org) = app.new_org("other@example.com", "Other").await;
    group_id(&app, &other, other_org, "Blue Team", &[]).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM groups").await,
        3,
        "nothing half-created"
    );
}

async fn team_leaders_edit_their_own_groups_only(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (leader, leader_id) = app
        .add_member(&owner, org, "leader@example.com", "team_leader")
        .await;
    let (admin, _) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let (user, user_id) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    let (billing, _) = app
        .add_member(&owner, org, "billing@example.com", "billing_manager")
        .await;
    let own = group_id(
        &app,
        &admin,
        org,
        "Own",
        &[("member_ids", &leader_id.to_string())],
    )
    .await;
    let other = group_id(&app, &owner, org, "Other", &[]).await;
    let org_s = org.to_string();
    let update = |group: i64, limit: &str| {
        vec![
            ("org_id".to_string(), org_s.clone()),
            ("group_id".to_string(), group.to_string()),
            (
                "name".to_string(),
                if group == own {
                    "Own".to_string()
                } else {
                    "Other".to_string()
                },
            ),
            ("scans_limit".to_string(), limit.to_string()),
        ]
    };
    async fn call(
        app: &TestApp,
        client: &reqwest::Client,
        f: &str,
        form: Vec<(String, String)>,
    ) -> common::Resp {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        app.call(client, f, &form).await
    }
    // The Team Leader edits settings and membership of their group...
    call(&app, &leader, "groups/update", update(own, "4"))
        .await
        .expect_status(200);
    app.call(
        &leader,
        "groups/members/add",
        &[
            ("org_id", &org_s),
            ("group_id", &own.to_string()),
            ("user_id", &user_id.to_string()),
        ],
    )
    .await
    .expect_status(200);
    assert_eq!(
        get(&app, &leader, org, own).await.expect_status(200).json()["can_edit"],
        true
    );
    // ...but not another group, and creates or deletes none.
    call(&app, &leader, "groups/update", update(other, "4"))
        .await
        .expect_error(403, "forbidden", None);
    app.call(
        &leader,
        "groups/members/add",
        &[
            ("org_id", &org_s),
            ("group_id", &other.to_string()),
            ("user_id", &user_id.to_string()),
        ],
    )
    .await
    .expect_error(403, "forbidden", None);
    create(&app, &leader, org, "Mine", &[])
        .await
        .expect_error(403, "forbidden", None);
    app.call(
        &leader,
        "groups/delete",
        &[
            ("org_id", &org_s),
            ("group_id", &own.to_string()),
            ("confirm", "Own"),
        ],
    )
    .await
    .expect_error(403, "forbidden", None);
    // Users see groups but edit none, even their own; Billing Managers do not see them.
    app.call(&user, "groups/list", &[("org_id", &org_s)])
        .await
        .expect_status(200);
    call(&app, &user, "groups/update", update(own, "2"))
        .await
        .expect_error(403, "forbidden", None);
    app.call(&billing, "groups/list", &[("org_id", &org_s)])
        .await
        .expect_error(403, "forbidden", None);
    get(&app, &billing, org, own)
        .await
        .expect_error(403, "forbidden", None);
    // Admins edit any group.
    call(&app, &admin, "groups/update", update(other, "2"))
        .await
        .expect_status(200);
    let g = get(&app, &owner, org, own).await.expect_status(200).json();
    assert_eq!(
        (g["scans_limit"].as_i64(), g["member_count"].as_i64()),
        (Some(4), Some(2)),
        "{g}"
    );
}

async fn groups_of_another_org_are_not_found(app: TestApp) {
    let (a, org_a) = app.new_org("a@example.com", "A").await;
    let (b, org_b) = app.new_org("b@example.com", "B").await;
    let group_b = group_id(&app, &b, org_b, "B's group", &[]).await;
    let b_user = app.user_id(&b).await;
    // B's group through A's own org id: not found; through B's org id: not a member, not found.
    get(&app, &a, org_a, group_b)
        .await
        .expect_error(404, "not_found", None);
    get(&app, &a, org_b, group_b)
        .await
        .expect_error(404, "not_found", None);
    app.call(
        &a,
        "groups/update",
        &[
            ("org_id", &org_a.to_string()),
            ("group_id", &group_b.to_string()),
            ("name", "x"),
            ("scans_limit", "1"),
        ],
    )
    .await
    .expect_error(404, "not_found", None);
    app.call(
        &a,
        "groups/delete",
        &[
            ("org_id", &org_a.to_string()),
            ("group_id", &group_b.to_string()),
            ("confirm", "B's group"),
        ],
    )
    .await
    .expect_error(404, "not_found", None);
    app.call(
        &a,
        "integrations/get",
        &[
            ("org_id", &org_a.to_string()),
            ("group_id", &group_b.to_string()),
        ],
    )
    .await
    .expect_error(404, "not_found", None);
    // Someone from another org cannot be put in a group.
    let group_a = group_id(&app, &a, org_a, "A's group", &[]).await;
    app.call(
        &a,
        "groups/members/add",
        &[
            ("org_id", &org_a.to_string()),
            ("group_id", &group_a.to_string()),
            ("user_id", &b_user.to_string()),
        ],
    )
    .await
    .expect_error(409, "conflict", Some("members"));
    // Nor does the type-ahead show them.
    let found = app
        .call(
            &a,
            "groups/member_suggestions",
            &[("org_id", &org_a.to_string()), ("q", "b")],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(found, serde_json::json!([]), "{found}");
}

/// A webhook receiver in the test: records each request and answers the next queued status.
const SECRET: &str = "a-signing-secret-of-some-length";

fn verify_signature(headers: &HeaderMap, body: &str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let timestamp = header("x-gatehouse-timestamp");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        header("x-gatehouse-signature"),
        expected,
        "signature over {timestamp}.{body}"
    );
    assert!(
        timestamp.parse::<i64>().is_ok(),
        "timestamp header: {headers:?}"
    );
}

async fn deliveries(app: &TestApp) -> Vec<(String, String, i64)> {
    sqlx::query_as("SELECT event, status, attempts FROM deliveries ORDER BY id")
        .fetch_all(&app.state.db.pool)
        .await
        .expect("deliveries")
}

/// Waits until the delivery worker has recorded attempt `attempts` of `event` as `status`.
/// `attempts` counts up when a worker claims the delivery, before it sends; the outcome is
/// recorded (and the claim released) only when the attempt ends, so "attempts = 1" alone
/// would also match an attempt still in flight.
async fn wait_recorded(app: &TestApp, event: &str, status: &str, attempts: i64) {
    let sql = format!(
        "SELECT COUNT(*) FROM deliveries
         WHERE event = '{event}' AND status = '{status}' AND attempts = {attempts} AND claimed_until = 0"
    );
    for _ in 0..200 {
        if app.count(&sql).await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "attempt {attempts} of {event} was not recorded as {status} within 10 s: {:?}",
        deliveries(app).await
    );
}

async fn group_events_reach_a_webhook_signed_and_retried(app: TestApp) {
    let mut receiver = start_receiver(&[200, 500, 200]).await;
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (_, ada) = app.add_member(&owner, org, "ada@example.com", "user").await;
    let id = group_id(
        &app,
        &owner,
        org,
        "Hooked",
        &[
            ("webhook_enabled", "on"),
            ("webhook_url", &receiver.url),
            ("webhook_secret", SECRET),
        ],
    )
    .await;
    // The secret is stored encrypted and never shown back.
    let view = app
        .call(
            &owner,
            "integrations/get",
            &[("org_id", &org.to_string()), ("group_id", &id.to_string())],
        )
        .await
        .expect_status(200);
    assert!(!view.body.contains(SECRET), "{}", view.body);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM group_integrations WHERE secret LIKE '%{SECRET}%'"
        ))
        .await,
        0
    );

    // Send test event: delivered now, signed, result answered and listed.
    let test = app
        .call(
            &owner,
            "integrations/test",
            &[
                ("org_id", &org.to_string()),
                ("group_id", &id.to_string()),
                ("kind", "webhook"),
            ],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        (test["status"].as_str(), test["response_status"].as_i64()),
        (Some("delivered"), Some(200)),
        "{test}"
    );
    let (headers, body) = next_request(&mut receiver).await;
    verify_signature(&headers, &body);
    assert_eq!(
        headers
            .get("x-gatehouse-event")
            .and_then(|v| v.to_str().ok()),
        Some("test")
    );

    // A member added: queued with the change, delivered in the background; the receiver
    // answers 500 first, so it is retried after the backoff.
    app.call(
        &owner,
        "groups/members/add",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &id.to_string()),
            ("user_id", &ada.to_string()),
        ],
    )
    .await
    .expect_status(200);
    let (headers, body) = next_request(&mut receiver).await;
    verify_signature(&headers, &body);
    let event: Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(event["event"], "group.member_added", "{event}");
    assert_eq!(
        event["data"]["member"]["email"], "ada@example.com",
        "{event}"
    );
    // Wait until the failed attempt is recorded, then move past the backoff.
    wait_recorded(&app, "group.member_added", "pending", 1).await;
    app.clock.advance(Duration::from_secs(10));
    let (headers, retried) = next_request(&mut receiver).await;
    verify_signature(&headers, &retried);
    assert_eq!(retried, body, "the retry carries the same event");
    wait_recorded(&app, "group.member_added", "delivered", 2).await;
    let after = deliveries(&app).await;
    assert!(
        after.contains(&("group.member_added".to_string(), "delivered".to_string(), 2)),
        "{after:?}"
    );
    // The group page lists the deliveries.
    let view = app
        .call(
            &owner,
            "integrations/get",
            &[("org_id", &org.to_string()), ("group_id", &id.to_string())],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        view["deliveries"].as_array().map(Vec::len),
        Some(2),
        "{view}"
    );
}

async fn queued_deliveries_survive_a_restart(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    // The receiver is not up yet: the first attempt fails to connect.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);
    let url = format!("http://127.0.0.1:{port}/hook");
    let id = group_id(
        &app,
        &owner,
        org,
        "Later",
        &[
            ("webhook_enabled", "on"),
            ("webhook_url", &url),
            ("webhook_secret", SECRET),
        ],
    )
    .await;
    app.call(
        &owner,
        "groups/update",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &id.to_string()),
            ("name", "Later"),
            ("scans_limit", "2"),
        ],
    )
    .await
    .expect_status(200);
    wait_recorded(&app, "group.settings_changed", "pending", 1).await;
    assert_eq!(
        deliveries(&app).await,
        [(
            "group.settings_changed".to_string(),
            "pending".to_string(),
            1
        )]
    );
    let app = app.restart().await;
    // Now the receiver listens on that port, and the backoff has passed.
    let mut receiver = start_receiver_on(port, &[]).await;
    app.clock.advance(Duration::from_secs(10));
    let (headers, body) = next_request(&mut receiver).await;
    verify_signature(&headers, &body);
    assert!(body.contains("group.settings_changed"), "{body}");
}
