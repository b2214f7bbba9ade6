//! A policy's impact before it applies, against the real server: who "Require two-factor
//! authentication" (either level) and "Require single sign-on" would block, with why, and
//! which API keys would be refused, with their last use; on the Owner's panel (server
//! function) and on the REST API. Members get their methods through the real flows (TOTP
//! codes computed here, a software passkey), keys their last use through a real request.

use crate::common;

use common::two_factor::enable;
use common::webauthn::{new_key, register};
use common::TestApp;
use serde_json::Value;
use std::time::Duration;

on_both_databases!(
    the_preview_names_who_and_which_keys_each_policy_blocks,
    the_rest_preview_answers_owners_keys_only_and_refuses_bad_input,
    report_only_refuses_nothing_and_counts_what_it_would_refuse,
    reads_at_the_same_time_see_the_same_counts,
);

const DAY: i64 = 24 * 3600;

/// An Owner with an authenticator app, and three members: `dev` (no second factor, with a
/// key used by a deploy script and one that expires in 7 days), `app` (an authenticator
/// app only, an Admin) and `passkey` (a passkey).
async fn org_with_members(app: &TestApp) -> Org {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    enable(app, &owner).await;
    let (dev, dev_id) = app.add_member(&owner, org, "dev@example.com", "user").await;
    let (with_app, _) = app
        .add_member(&owner, org, "app@example.com", "admin")
        .await;
    enable(app, &with_app).await;
    let (with_passkey, _) = app
        .add_member(&owner, org, "passkey@example.com", "user")
        .await;
    register(app, &with_passkey, &mut new_key(), "YubiKey")
        .await
        .expect_status(200);
    let deploy = app.create_key(&dev, org, "scans:write", "90").await;
    app.create_key(&dev, org, "org:read", "7").await;
    app.api_get_as(&deploy, "deploy-bot/1.2", "/api/v1/me")
        .await
        .expect_status(200);
    // The last use is written after the answer.
    for _ in 0..500 {
        if app
            .count("SELECT COUNT(*) FROM api_keys WHERE last_used_agent IS NOT NULL")
            .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Org {
        owner,
        id: org,
        dev,
        dev_id,
        admin: with_app,
    }
}

/// Signed-in browsers of an organization's people.
struct Org {
    owner: reqwest::Client,
    id: i64,
    dev: reqwest::Client,
    dev_id: i64,
    admin: reqwest::Client,
}

async fn preview(
    app: &TestApp,
    client: &reqwest::Client,
    org: i64,
    policy: &str,
    days: &str,
) -> Value {
    let org = org.to_string();
    app.call(
        client,
        "org/policies/preview",
        &[("org_id", &org), ("policy", policy), ("grace_days", days)],
    )
    .await
    .expect_status(200)
    .json()
}

fn emails_and_reasons(impact: &Value) -> Vec<(String, String)> {
    impact["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members in {impact}"))
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default().to_string(),
                m["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn the_preview_names_who_and_which_keys_each_policy_blocks(app: TestApp) {
    let Org {
        owner,
        id: org,
        dev,
        dev_id,
        ..
    } = org_with_members(&app).await;
    let now = app.now();

    // Any method, 7 days' grace: dev, and of dev's keys the one still valid in 7 days.
    let impact = preview(&app, &owner, org, "two_factor", "7").await;
    assert_eq!(impact["members_count"], 1, "{impact}");
    assert_eq!(
        emails_and_reasons(&impact),
        [(
            "dev@example.com".to_string(),
            "no_second_factor".to_string()
        )],
        "{impact}"
    );
    assert_eq!(impact["members"][0]["keys"], 1, "{impact}");
    assert_eq!(impact["blocks_at"], now + 7 * DAY, "{impact}");
    assert_eq!(
        impact["keys_count"], 1,
        "the 7-day key expires by then: {impact}"
    );
    let key = &impact["keys"][0];
    assert_eq!(key["owner_user_id"], dev_id, "{impact}");
    assert_eq!(key["owner_email"], "dev@example.com", "{impact}");
    assert_eq!(
        key["scopes"],
        serde_json::json!(["scans:write"]),
        "{impact}"
    );
    assert_eq!(key["last_used_ip"], "127.0.0.1", "{impact}");
    assert_eq!(key["last_used_agent"], "deploy-bot/1.2", "{impact}");
    assert_eq!(key["last_used_ago"], "just now", "{impact}");

    // At once: both of dev's keys stop.
    let impact = preview(&app, &owner, org, "two_factor", "0").await;
    assert_eq!(impact["keys_count"], 2, "{impact}");
    assert_eq!(impact["blocks_at"], now, "{impact}");
    assert_eq!(
        impact["keys"][0]["last_used_agent"], "deploy-bot/1.2",
        "most recently used first: {impact}"
    );

    // Security keys only: an app no longer counts (the Owner's own included); the passkey does.
    let impact = preview(&app, &owner, org, "security_keys", "0").await;
    let mut found = emails_and_reasons(&impact);
    found.sort();
    assert_eq!(
        found,
        [
            ("app@example.com".to_string(), "app_only".to_string()),
            (
                "dev@example.com".to_string(),
                "no_second_factor".to_string()
            ),
            ("owner@example.com".to_string(), "app_only".to_string()),
        ],
        "{impact}"
    );
    assert_eq!(impact["members_count"], 3, "{impact}");

    // Single sign-on: every member but the Owners, none has signed in through a provider;
    // keys keep working and there is no grace period.
    let impact = preview(&app, &owner, org, "sso", "7").await;
    assert_eq!(impact["members_count"], 3, "{impact}");
    assert!(
        emails_and_reasons(&impact)
            .iter()
            .all(|(email, reason)| email != "owner@example.com" && reason == "no_sso_identity"),
        "{impact}"
    );
    assert_eq!(impact["refuses_keys"], false, "{impact}");
    assert_eq!(impact["keys_count"], 0, "{impact}");
    assert_eq!(impact["grace_days"], 0, "{impact}");

    // A member fixing it leaves the preview at once.
    enable(&app, &dev).await;
    let events_before = app.count("SELECT COUNT(*) FROM audit_events").await;
    let impact = preview(&app, &owner, org, "two_factor", "0").await;
    preview(&app, &owner, org, "sso", "0").await;
    assert_eq!(impact["members_count"], 0, "{impact}");
    assert_eq!(impact["keys_count"], 0, "{impact}");

    // Looking changes nothing.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events").await,
        events_before,
        "a preview writes no audit event"
    );
    assert_eq!(
        app.count("SELECT require_two_factor FROM organizations")
            .await,
        0,
        "a preview applies nothing"
    );

    // Bad input, and another organization's id.
    let org_s = org.to_string();
    app.call(
        &owner,
        "org/policies/preview",
        &[
            ("org_id", &org_s),
            ("policy", "two_factor"),
            ("grace_days", "31"),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("grace_days"));
    app.call(
        &owner,
        "org/policies/preview",
        &[("org_id", &org_s), ("policy", "vpn")],
    )
    .await
    .expect_error(422, "invalid_input", Some("policy"));
    let (stranger, _) = app.new_org("stranger@example.com", "Other").await;
    app.call(
        &stranger,
        "org/policies/preview",
        &[("org_id", &org_s), ("policy", "two_factor")],
    )
    .await
    .expect_status(404);
}

async fn the_rest_preview_answers_owners_keys_only_and_refuses_bad_input(app: TestApp) {
    let Org {
        owner,
        id: org,
        admin,
        ..
    } = org_with_members(&app).await;
    let key = app.create_key(&owner, org, "members:read", "30").await;
    let impact = app
        .api(
            "GET",
            "/api/v1/org/policies/preview?policy=two_factor&grace_days=7&limit=1",
            Some(&key),
            None,
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(impact["policy"], "two_factor", "{impact}");
    assert_eq!(impact["members_count"], 1, "{impact}");
    assert_eq!(impact["keys_count"], 1, "{impact}");
    assert_eq!(
        impact["keys"][0]["last_used_agent"], "deploy-bot/1.2",
        "{impact}"
    );
    let impact = app
        .api(
            "GET",
            "/api/v1/org/policies/preview?policy=security_keys&limit=1",
            Some(&key),
            None,
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(impact["members_count"], 3, "{impact}");
    assert_eq!(
        impact["members"].as_array().map(Vec::len),
        Some(1),
        "limit: {impact}"
    );

    for (query, field) in [
        ("policy=two_factor&grace_days=31", "grace_days"),
        ("policy=two_factor&limit=0", "limit"),
        ("policy=vpn", "query"),
        ("grace_days=1", "query"),
        ("policy=sso&colour=red", "query"),
    ] {
        app.api(
            "GET",
            &format!("/api/v1/org/policies/preview?{query}"),
            Some(&key),
            None,
        )
        .await
        .expect_error(422, "invalid_input", Some(field));
    }

    // The scope, then the role.
    let narrow = app.create_key(&owner, org, "org:read", "30").await;
    app.api(
        "GET",
        "/api/v1/org/policies/preview?policy=sso",
        Some(&narrow),
        None,
    )
    .await
    .expect_error(403, "insufficient_scope", None);
    let admins_key = app.create_key(&admin, org, "members:read", "30").await;
    app.api(
        "GET",
        "/api/v1/org/policies/preview?policy=sso",
        Some(&admins_key),
        None,
    )
    .await
    .expect_error(403, "forbidden", None);
}

async fn trials(app: &TestApp, client: &reqwest::Client, org: i64) -> Value {
    app.call(
        client,
        "org/policies/trials",
        &[("org_id", &org.to_string())],
    )
    .await
    .expect_status(200)
    .json()
}

/// Reads the trials until `check` holds (what a door counted is written within a second;
/// reading writes this process's part at once), up to 5 s.
async fn trials_until(
    app: &TestApp,
    client: &reqwest::Client,
    org: i64,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = trials(app, client, org).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the trials never showed what was expected: {last}");
}

async fn report_only_refuses_nothing_and_counts_what_it_would_refuse(app: TestApp) {
    let Org {
        owner,
        id: org,
        dev,
        dev_id,
        admin,
    } = org_with_members(&app).await;
    let org_s = org.to_string();
    // A key of dev's, used before the trial (and so, on PostgreSQL, in the key cache).
    let deploy = app.create_key(&dev, org, "org:read", "30").await;
    let use_key = || app.api_get_as(&deploy, "nightly-deploy/3", "/api/v1/org");
    use_key().await.expect_status(200);

    // Bad input, and only an Owner.
    for (days, field) in [("0", "days"), ("31", "days"), ("a week", "days")] {
        app.call(
            &owner,
            "org/policies/trials/start",
            &[("org_id", &org_s), ("policy", "two_factor"), ("days", days)],
        )
        .await
        .expect_error(422, "invalid_input", Some(field));
    }
    app.call(
        &owner,
        "org/policies/trials/start",
        &[("org_id", &org_s), ("policy", "sso"), ("days", "7")],
    )
    .await
    .expect_error(409, "conflict", Some("policy"));
    app.call(
        &admin,
        "org/policies/trials/start",
        &[("org_id", &org_s), ("policy", "two_factor"), ("days", "7")],
    )
    .await
    .expect_error(403, "forbidden", None);
    assert_eq!(trials(&app, &owner, org).await["two_factor"], Value::Null);

    app.call(
        &owner,
        "org/policies/trials/start",
        &[("org_id", &org_s), ("policy", "two_factor"), ("days", "7")],
    )
    .await
    .expect_status(200);

    // Nothing is refused: dev's key and dev's session go on working, and each is counted.
    for _ in 0..3 {
        use_key().await.expect_status(200);
    }
    app.call(&dev, "org/settings", &[("org_id", &org_s)])
        .await
        .expect_status(200);
    // Members with a second factor are not counted.
    app.call(&admin, "org/settings", &[("org_id", &org_s)])
        .await
        .expect_status(200);
    let seen = trials_until(&app, &owner, org, |t| t["two_factor"]["requests"] == 4).await;
    let trial = &seen["two_factor"];
    assert_eq!(trial["policy"], "two_factor", "{seen}");
    assert_eq!(trial["running"], true, "{seen}");
    assert_eq!(trial["members"], 1, "{seen}");
    let entries = trial["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "the key and the session: {seen}");
    assert_eq!(entries[0]["email"], "dev@example.com", "{seen}");
    assert_eq!(entries[0]["key_name"], "test key", "{seen}");
    assert_eq!(entries[0]["requests"], 3, "{seen}");
    assert_eq!(entries[0]["ip"], "127.0.0.1", "{seen}");
    assert_eq!(entries[0]["agent"], "nightly-deploy/3", "{seen}");
    assert_eq!(entries[1]["key_name"], Value::Null, "a session: {seen}");
    assert_eq!(entries[1]["requests"], 1, "{seen}");
    // Each member and key once in the audit log, however many requests.
    use_key().await.expect_status(200);
    trials_until(&app, &owner, org, |t| t["two_factor"]["requests"] == 5).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'policy.would_deny' AND actor_user_id = {dev_id}"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'policy.report_only_started'")
            .await,
        1
    );

    // Stopped: the counts stay, and no more are added.
    app.call(
        &owner,
        "org/policies/trials/stop",
        &[("org_id", &org_s), ("policy", "two_factor")],
    )
    .await
    .expect_status(200);
    use_key().await.expect_status(200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = trials(&app, &owner, org).await;
    assert_eq!(after["two_factor"]["running"], false, "{after}");
    assert_eq!(after["two_factor"]["requests"], 5, "{after}");
    app.call(
        &owner,
        "org/policies/trials/stop",
        &[("org_id", &org_s), ("policy", "two_factor")],
    )
    .await
    .expect_error(409, "conflict", Some("policy"));

    // A policy already in force has nothing to try.
    let form = [
        ("org_id", org_s.as_str()),
        ("grace_days", "7"),
        ("require", "on"),
    ];
    app.call(&owner, "org/two_factor/set", &form)
        .await
        .expect_status(200);
    app.call(
        &owner,
        "org/policies/trials/start",
        &[("org_id", &org_s), ("policy", "two_factor"), ("days", "7")],
    )
    .await
    .expect_error(409, "conflict", Some("policy"));
    // The stricter level still can be tried, and it starts over.
    app.call(
        &owner,
        "org/policies/trials/start",
        &[
            ("org_id", &org_s),
            ("policy", "security_keys"),
            ("days", "3"),
        ],
    )
    .await
    .expect_status(200);
    app.call(&admin, "org/settings", &[("org_id", &org_s)])
        .await
        .expect_status(200);
    // (The Owner's own requests count too: an app only, under security keys only.)
    let seen = trials_until(&app, &owner, org, |t| {
        t["two_factor"]["entries"]
            .as_array()
            .is_some_and(|e| e.iter().any(|w| w["email"] == "app@example.com"))
    })
    .await;
    assert_eq!(seen["two_factor"]["policy"], "security_keys", "{seen}");
    assert!(
        seen["two_factor"]["entries"]
            .as_array()
            .is_some_and(|e| e.iter().all(|w| w["email"] != "dev@example.com")),
        "dev made no request in this trial: {seen}"
    );
}

/// A page reads the trials several times while it renders (and the browser hydrates with
/// the first read's data, the HTML comes from the last): reads at the same time must agree.
/// Each read first writes what this process counted; a read that finds another read's
/// write under way waits for it instead of reading before it lands.
async fn reads_at_the_same_time_see_the_same_counts(app: TestApp) {
    let Org {
        owner,
        id: org,
        dev,
        ..
    } = org_with_members(&app).await;
    let org_s = org.to_string();
    let deploy = app.create_key(&dev, org, "org:read", "30").await;
    app.call(
        &owner,
        "org/policies/trials/start",
        &[("org_id", &org_s), ("policy", "two_factor"), ("days", "7")],
    )
    .await
    .expect_status(200);
    for round in 1..=10 {
        app.api_get_as(&deploy, "nightly-deploy/3", "/api/v1/org")
            .await
            .expect_status(200);
        let (a, b, c) = tokio::join!(
            trials(&app, &owner, org),
            trials(&app, &owner, org),
            trials(&app, &owner, org)
        );
        let counts = [&a, &b, &c].map(|t| t["two_factor"]["requests"].clone());
        assert_eq!(
            counts,
            [Value::from(round), Value::from(round), Value::from(round)],
            "round {round}: three reads at once, each after the key's request: {a} / {b} / {c}"
        );
    }
}
