//! The organization overview (the home page): figures that match the organization, and each
//! role sees only the parts the roles table gives it; another organization's overview is 404.

use crate::common;

use common::receiver::start_receiver;
use common::two_factor::{code_at, enable};
use common::{TestApp, PASSWORD};
use serde_json::{json, Value};

on_both_databases!(
    each_role_sees_its_part_of_the_overview,
    another_organizations_overview_is_not_found,
    two_factor_compliance_follows_every_change_of_a_members_factors
);

const SCAN_SCOPES: &str = "scans:read scans:write";

async fn overview(app: &TestApp, client: &reqwest::Client, org: i64) -> Value {
    app.call(client, "overview", &[("org_id", &org.to_string())])
        .await
        .expect_status(200)
        .json()
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn each_role_sees_its_part_of_the_overview(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let (admin, _) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let (user, user_id) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    let (billing, _) = app
        .add_member(&owner, org, "billing@example.com", "billing_manager")
        .await;
    enable(&app, &admin).await;
    app.invite(&owner, org, "Nina New", "nina@example.com", "user")
        .await
        .expect_status(200);

    // Red Team (the user's group, limit 1): one scan finished, one running, one queued.
    let red = app
        .new_group(
            &owner,
            org,
            "Red Team",
            "1",
            &[("member_ids", &user_id.to_string())],
        )
        .await;
    let user_key = app.create_key(&user, org, SCAN_SCOPES, "7").await;
    for target in [
        "https://a.example.com",
        "https://b.example.com",
        "https://c.example.com",
    ] {
        app.api(
            "POST",
            "/api/v1/scans",
            Some(&user_key),
            Some(json!({"group_id": red, "target": target})),
        )
        .await
        .expect_status(201);
    }
    let runner = app.create_key(&owner, org, SCAN_SCOPES, "7").await;
    let first = app
        .api("POST", "/api/v1/scans/claim", Some(&runner), None)
        .await
        .expect_status(200)
        .json();
    let first_id = first["id"].as_i64().unwrap_or_else(|| panic!("{first}"));
    app.api(
        "POST",
        &format!("/api/v1/scans/{first_id}/finish"),
        Some(&runner),
        Some(json!({"status": "finished", "result": "ok"})),
    )
    .await
    .expect_status(200);
    app.api("POST", "/api/v1/scans/claim", Some(&runner), None)
        .await
        .expect_status(200);

    // Blue (no members): its webhook's test event fails.
    let mut receiver = start_receiver(&[500; 8]).await;
    let blue = app
        .new_group(
            &owner,
            org,
            "Blue",
            "2",
            &[
                ("webhook_enabled", "on"),
                ("webhook_url", &receiver.url),
                ("webhook_secret", "a-webhook-secret-of-some-length"),
            ],
        )
        .await;
    let test = app
        .call(
            &owner,
            "integrations/test",
            &[
                ("org_id", &org.to_string()),
                ("group_id", &blue.to_string()),
                ("kind", "webhook"),
            ],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(test["status"], "failed", "{test}");
    let _ = common::receiver::next_request(&mut receiver).await;

    // The Owner sees everything.
    let o = overview(&app, &owner, org).await;
    let m = &o["members"];
    assert_eq!(
        (
            &m["members"],
            &m["pending_invitations"],
            &m["with_two_factor"],
            &m["two_factor_required"]
        ),
        (&json!(4), &json!(1), &json!(1), &json!(false)),
        "{o}"
    );
    // The Owner's link goes to the policy panel, which lists them; an Admin's to the members.
    assert_eq!(m["policy_visible"], true, "{o}");
    let as_admin = overview(&app, &admin, org).await;
    assert_eq!(as_admin["members"]["with_two_factor"], 1, "{as_admin}");
    assert_eq!(as_admin["members"]["policy_visible"], false, "{as_admin}");
    assert_eq!(
        o["scan_usage"],
        json!([{"group_id": red, "name": "Red Team", "running": 1, "queued": 1, "limit": 1}]),
        "{o}"
    );
    assert_eq!(
        names(&o["recent_scans"], "target"),
        ["https://a.example.com/"],
        "{o}"
    );
    assert_eq!(
        o["failing_integrations"],
        json!([{"group_id": blue, "name": "Blue", "failed": 1}]),
        "{o}"
    );
    let events = names(&o["recent_events"], "action");
    assert_eq!(events.len(), 10, "{o}");
    assert!(events.contains(&"group.created".to_string()), "{events:?}");
    assert_eq!(
        names(&o["org_keys_expiring"], "owner"),
        ["Member <user@example.com>", "Owner <owner@example.com>"],
        "{o}"
    );
    assert_eq!(
        names(&o["my_keys_expiring"], "expires_in"),
        ["in 7 days"],
        "{o}"
    );

    // The page itself.
    let page = app.get(&owner, "/", &[]).await.expect_status(200);
    for text in [
        "1 of 4 members",
        "Red Team",
        "1 of 1 running, 1 queued",
        "1 failed delivery",
    ] {
        assert!(page.body.contains(text), "{text:?} in {}", page.request);
    }

    // A User: their groups' scans and their own keys; no compliance, audit or integrations.
    let o = overview(&app, &user, org).await;
    assert_eq!(o["members"]["members"], 4, "{o}");
    assert!(o["members"]["with_two_factor"].is_null(), "{o}");
    assert_eq!(names(&o["scan_usage"], "name"), ["Red Team"], "{o}");
    for hidden in ["failing_integrations", "recent_events", "org_keys_expiring"] {
        assert!(o[hidden].is_null(), "{hidden}: {o}");
    }
    assert_eq!(names(&o["my_keys_expiring"], "name"), ["test key"], "{o}");
    let page = app.get(&user, "/", &[]).await.expect_status(200);
    assert!(!page.body.contains("Recent activity"), "{}", page.request);

    // A Billing Manager: no members, no scans.
    let o = overview(&app, &billing, org).await;
    for hidden in ["members", "scan_usage", "recent_scans", "recent_events"] {
        assert!(o[hidden].is_null(), "{hidden}: {o}");
    }
    assert_eq!(o["my_keys_expiring"], json!([]), "{o}");
}

async fn another_organizations_overview_is_not_found(app: TestApp) {
    let (_, org) = app.new_org("owner@example.com", "Acme").await;
    let (stranger, _) = app.new_org("stranger@example.com", "Other").await;
    app.call(&stranger, "overview", &[("org_id", &org.to_string())])
        .await
        .expect_error(404, "not_found", None);
    app.call(&stranger, "overview", &[("org_id", "x")])
        .await
        .expect_status(422);
}

/// Compliance is counted from a copy of each member's 2FA state kept on their memberships (one
/// index range instead of a lookup per member): it must follow turning 2FA on and off, and a
/// person with 2FA joining another organization, in every organization at once.
async fn two_factor_compliance_follows_every_change_of_a_members_factors(app: TestApp) {
    let (owner, first) = app.new_org("owner@example.com", "First").await;
    let (member, _) = app
        .add_member(&owner, first, "member@example.com", "user")
        .await;
    let compliance = |org: i64, client: reqwest::Client| {
        let app = &app;
        async move {
            let o = overview(app, &client, org).await;
            let policy = app
                .call(&client, "org/two_factor", &[("org_id", &org.to_string())])
                .await
                .expect_status(200)
                .json();
            (
                o["members"]["with_two_factor"].as_i64(),
                o["members"]["members"].as_i64(),
                policy["without_count"].as_i64(),
            )
        }
    };
    assert_eq!(
        compliance(first, owner.clone()).await,
        (Some(0), Some(2), Some(2))
    );
    let (secret, _) = enable(&app, &member).await;
    assert_eq!(
        compliance(first, owner.clone()).await,
        (Some(1), Some(2), Some(1))
    );
    enable(&app, &owner).await;
    assert_eq!(
        compliance(first, owner.clone()).await,
        (Some(2), Some(2), Some(0))
    );

    // The member, with 2FA on, joins a second organization: counted there at once.
    let (other_owner, second) = app.new_org("other@example.com", "Second").await;
    app.add_existing_member(&other_owner, second, &member, "member@example.com", "user")
        .await;
    assert_eq!(
        compliance(second, other_owner.clone()).await,
        (Some(1), Some(2), Some(1))
    );

    // Turning it off counts in both.
    app.call(
        &member,
        "two_factor/disable",
        &[
            ("password", PASSWORD),
            ("code", &code_at(&secret, app.now())),
        ],
    )
    .await
    .expect_status(200);
    assert_eq!(
        compliance(first, owner.clone()).await,
        (Some(1), Some(2), Some(1))
    );
    assert_eq!(
        compliance(second, other_owner.clone()).await,
        (Some(0), Some(2), Some(2))
    );
}
