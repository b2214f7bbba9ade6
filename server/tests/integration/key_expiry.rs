//! Warnings before an API key expires: the background worker warns the key's owner 7 days and
//! 1 day before, in the app and by email, once each: not again on a later pass, not again after
//! a restart, and not twice when two replicas' workers run at the same moment.

use crate::common;

use app::api_keys::server::expiry::warn_due;
use common::smtp::{decode_body, SmtpSink};
use common::{TestApp, PASSWORD};
use serde_json::Value;
use std::time::Duration;

const DAY: u64 = 24 * 3600;

on_both_databases!(
    warnings_come_once_each_at_seven_days_and_at_one_day,
    two_workers_send_each_warning_once
);

/// Restarts `app` sending its mail to a new SMTP sink.
async fn with_smtp(app: TestApp) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let mut config = app.config().clone();
    config.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    (app.restart_with(config).await, sink)
}

/// The warnings recorded so far, as `(key id, days before)`.
async fn warnings(app: &TestApp) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT key_id, days_before FROM api_key_expiry_notices ORDER BY key_id, days_before",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .expect("warnings")
}

/// Every email that arrives within `wait`: (body) in arrival order.
async fn mails(sink: &mut SmtpSink, wait: Duration) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(Some(mail)) = tokio::time::timeout(wait, sink.messages.recv()).await {
        out.push(decode_body(&mail));
    }
    out
}

/// The owner, signed in afresh (the clock moves by weeks in these tests).
async fn owner(app: &TestApp) -> reqwest::Client {
    let client = app.new_client();
    app.sign_in(&client, "owner@example.com", PASSWORD)
        .await
        .expect_status(200);
    client
}

async fn key_named(
    app: &TestApp,
    client: &reqwest::Client,
    org: i64,
    name: &str,
    expiry: &str,
) -> i64 {
    let org_s = org.to_string();
    let created = app
        .call(
            client,
            "api_keys/create",
            &[
                ("name", name),
                ("org_id", &org_s),
                ("scopes", "org:read"),
                ("expiry", expiry),
            ],
        )
        .await
        .expect_status(200)
        .json();
    created["row"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no key id in {created}"))
}

async fn warnings_come_once_each_at_seven_days_and_at_one_day(app: TestApp) {
    let (app, mut sink) = with_smtp(app).await;
    let (first, org) = app.new_org("owner@example.com", "Acme").await;
    let monthly = key_named(&app, &first, org, "CI deploy", "30").await;
    // Made to live a week: its owner just chose that, so only the 1-day warning comes.
    let weekly = key_named(&app, &first, org, "Weekly job", "7").await;
    let revoked = key_named(&app, &first, org, "Old script", "30").await;
    key_named(&app, &first, org, "Forever", "never").await;
    app.call(
        &first,
        "api_keys/revoke",
        &[("key_id", &revoked.to_string())],
    )
    .await
    .expect_status(200);

    // Five days on, nothing is due.
    app.clock.advance(Duration::from_secs(5 * DAY));
    assert_eq!(warn_due(&app.state).await.expect("pass"), 0);
    assert_eq!(warnings(&app).await, []);
    assert_eq!(mails(&mut sink, Duration::from_millis(300)).await.len(), 0);

    // Under a day before the weekly key expires: its 1-day warning.
    app.clock.advance(Duration::from_secs(DAY + 60));
    assert_eq!(warn_due(&app.state).await.expect("pass"), 1);
    assert_eq!(warnings(&app).await, [(weekly, 1)]);
    let sent = mails(&mut sink, Duration::from_secs(5)).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("Your API key \"Weekly job\""),
        "{}",
        sent[0]
    );
    assert!(sent[0].contains("expires in 23 hours"), "{}", sent[0]);
    let session = app.session(&owner(&app).await).await;
    assert_eq!(session["key_expiry"], "in 23 hours", "{session}");

    // 8 days before the monthly key expires (the weekly one has expired): nothing is due.
    app.clock.advance(Duration::from_secs(16 * DAY - 60));
    assert_eq!(warn_due(&app.state).await.expect("pass"), 0);
    let session = app.session(&owner(&app).await).await;
    assert!(session["key_expiry"].is_null(), "{session}");

    // Just under 7 days: the monthly key's first warning, in the app and by email.
    app.clock.advance(Duration::from_secs(DAY + 60));
    assert_eq!(warn_due(&app.state).await.expect("pass"), 1);
    assert_eq!(warnings(&app).await, [(monthly, 7), (weekly, 1)]);
    let sent = mails(&mut sink, Duration::from_secs(5)).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("Your API key \"CI deploy\""),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("for Acme expires in 6 days"),
        "{}",
        sent[0]
    );
    assert!(sent[0].contains("/profile#api-keys"), "{}", sent[0]);
    let session = app.session(&owner(&app).await).await;
    assert_eq!(session["key_expiry"], "in 6 days", "{session}");
    // Every page shows the notice, and the keys list says it in words.
    let page = app
        .get(&owner(&app).await, "/members", &[])
        .await
        .expect_status(200);
    assert!(
        page.body.contains("An API key of yours expires in 6 days"),
        "{}",
        page.request
    );
    let list = app
        .call(&owner(&app).await, "api_keys/view", &[])
        .await
        .expect_status(200)
        .json();
    let words: Vec<(i64, &Value)> = list["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys in {list}"))
        .iter()
        .map(|k| (k["id"].as_i64().unwrap_or_default(), &k["expires_in"]))
        .collect();
    assert!(
        words.contains(&(monthly, &Value::from("in 6 days"))),
        "{list}"
    );
    assert!(
        words.contains(&(weekly, &Value::Null)),
        "an expired key: {list}"
    );
    assert!(
        words.contains(&(revoked, &Value::Null)),
        "a revoked key: {list}"
    );

    // A later pass, and a restart (whose worker passes at once), send nothing again.
    assert_eq!(warn_due(&app.state).await.expect("pass"), 0);
    let app = app.restart().await;
    assert_eq!(warn_due(&app.state).await.expect("pass"), 0);
    assert_eq!(warnings(&app).await, [(monthly, 7), (weekly, 1)]);
    assert_eq!(mails(&mut sink, Duration::from_millis(500)).await.len(), 0);

    // Dismissed: the banner goes until the next warning.
    app.call(&owner(&app).await, "api_keys/dismiss_expiry_notices", &[])
        .await
        .expect_status(200);
    let session = app.session(&owner(&app).await).await;
    assert!(session["key_expiry"].is_null(), "{session}");

    // Under a day before: the monthly key's 1-day warning brings the banner back.
    app.clock.advance(Duration::from_secs(6 * DAY));
    assert_eq!(warn_due(&app.state).await.expect("pass"), 1);
    assert_eq!(
        warnings(&app).await,
        [(monthly, 1), (monthly, 7), (weekly, 1)]
    );
    let sent = mails(&mut sink, Duration::from_secs(5)).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("expires in 23 hours"), "{}", sent[0]);
    let session = app.session(&owner(&app).await).await;
    assert_eq!(session["key_expiry"], "in 23 hours", "{session}");
}

async fn two_workers_send_each_warning_once(a: TestApp) {
    let (a, mut sink) = with_smtp(a).await;
    let shared = a.config().clone();
    let b = TestApp::spawn_with(a.backend, move |c| {
        c.database_url = shared.database_url.clone();
        c.data_dir = shared.data_dir.clone();
        c.secret_key = shared.secret_key.clone();
        c.smtp_url = shared.smtp_url.clone();
    })
    .await
    .expect("second replica");
    let (first, org) = a.new_org("owner@example.com", "Acme").await;
    let mut keys = Vec::new();
    for i in 0..20 {
        keys.push(key_named(&a, &first, org, &format!("key {i}"), "30").await);
    }
    // Both replicas' workers pass at the same moment, 7 days before, then 1 day before.
    for (days, step) in [(7, 23 * DAY + 60), (1, 6 * DAY)] {
        a.clock.advance(Duration::from_secs(step));
        b.clock.advance(Duration::from_secs(step));
        let (from_a, from_b) = tokio::join!(warn_due(&a.state), warn_due(&b.state));
        let (from_a, from_b) = (from_a.expect("pass on A"), from_b.expect("pass on B"));
        assert_eq!(from_a + from_b, 20, "A sent {from_a}, B sent {from_b}");
        let sent = mails(&mut sink, Duration::from_secs(2)).await;
        assert_eq!(sent.len(), 20, "{days}-day warnings: {sent:?}");
        for i in 0..20 {
            let name = format!("Your API key \"key {i}\"");
            assert_eq!(
                sent.iter().filter(|m| m.contains(&name)).count(),
                1,
                "{name}: {sent:?}"
            );
        }
    }
    let expected: Vec<(i64, i64)> = keys.iter().flat_map(|&k| [(k, 1), (k, 7)]).collect();
    assert_eq!(warnings(&a).await, expected);
}
