//! Audit log streaming against the real server and a real receiver on 127.0.0.1 that fails,
//! hangs and recovers: every event arrives, in order, and a retried batch carries the same
//! event ids; the cursor survives a restart; the Splunk HEC format; the outbound guard and
//! the Owner-only panel. Signatures are checked here with hmac/sha2, independently of
//! Gatehouse's own code.

use crate::common;

use common::receiver::{start_receiver, Receiver};
use common::TestApp;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::Duration;

on_both_databases!(
    every_event_arrives_in_order_through_failures_hangs_and_a_restart,
    splunk_hec_and_the_panels_rules,
);

const SECRET: &str = "stream-signing-secret-1";

async fn add_stream(
    app: &TestApp,
    client: &reqwest::Client,
    org: i64,
    kind: &str,
    url: &str,
    secret: &str,
) -> common::Resp {
    let org = org.to_string();
    app.call(
        client,
        "org/audit_streams/add",
        &[
            ("org_id", &org),
            ("kind", kind),
            ("url", url),
            ("secret", secret),
        ],
    )
    .await
}

async fn streams(app: &TestApp, client: &reqwest::Client, org: i64) -> Value {
    app.call(client, "org/audit_streams", &[("org_id", &org.to_string())])
        .await
        .expect_status(200)
        .json()
}

/// Reads the panel until `check` holds of the first stream, up to `secs`.
async fn stream_until(
    app: &TestApp,
    client: &reqwest::Client,
    org: i64,
    secs: u64,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..secs * 20 {
        last = streams(app, client, org).await;
        if check(&last["streams"][0]) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stream never got there: {last}");
}

/// Every request the receiver got so far.
fn drain(receiver: &mut Receiver) -> Vec<(http::HeaderMap, String)> {
    let mut got = Vec::new();
    while let Ok(request) = receiver.requests.try_recv() {
        got.push(request);
    }
    got
}

fn header(headers: &http::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The events of a JSON Lines batch, after checking its signature.
fn verified_lines(headers: &http::HeaderMap, body: &str) -> Vec<Value> {
    let timestamp = header(headers, "x-gatehouse-timestamp");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        header(headers, "x-gatehouse-signature"),
        expected,
        "signature of {body}"
    );
    assert_eq!(header(headers, "content-type"), "application/x-ndjson");
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

async fn every_event_arrives_in_order_through_failures_hangs_and_a_restart(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    // Down (500), then hanging (no answer: the client gives up after 10 s), then up.
    let mut receiver = start_receiver(&[500, 0]).await;
    add_stream(&app, &owner, org, "json_lines", &receiver.url, SECRET)
        .await
        .expect_status(200);

    // The first attempt fails: the panel says so, with the next attempt's time.
    let failing = stream_until(&app, &owner, org, 10, |s| s["last_error"].is_string()).await;
    let stream = &failing["streams"][0];
    assert!(
        stream["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "{failing}"
    );
    assert!(stream["next_attempt"].is_string(), "{failing}");
    assert!(stream["lag"].as_i64().unwrap_or_default() > 0, "{failing}");
    // Changes go on meanwhile.
    for name in ["Red", "Blue", "Green"] {
        app.new_group(&owner, org, name, "2", &[]).await;
    }
    // The backoff (5 s) passes: the second attempt hangs until the client's timeout.
    app.clock.advance(Duration::from_secs(5));
    stream_until(&app, &owner, org, 20, |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("No answer"))
    })
    .await;
    // Then (10 s more) the receiver is up and the stream catches up.
    app.clock.advance(Duration::from_secs(10));
    stream_until(&app, &owner, org, 10, |s| {
        s["lag"] == 0 && s["last_error"].is_null()
    })
    .await;

    let check_delivered = |requests: &[(http::HeaderMap, String)],
                           seen: &mut BTreeMap<i64, Value>| {
        for (headers, body) in requests {
            let events = verified_lines(headers, body);
            let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
            assert!(
                seqs.windows(2).all(|w| w[1] == w[0] + 1),
                "a batch is consecutive, in order: {seqs:?}"
            );
            assert_eq!(
                header(headers, "x-gatehouse-batch"),
                format!("{}-{}", seqs[0], seqs[seqs.len() - 1])
            );
            for event in events {
                let seq = event["seq"].as_i64().unwrap_or_default();
                if let Some(before) = seen.get(&seq) {
                    assert_eq!(before, &event, "a resent event is the same event, same id");
                }
                seen.insert(seq, event);
            }
        }
    };
    let requests = drain(&mut receiver);
    assert!(
        requests.len() >= 3,
        "failed, hung, then sent: {}",
        requests.len()
    );
    assert_eq!(
        verified_lines(&requests[0].0, &requests[0].1)[0]["id"],
        verified_lines(&requests[1].0, &requests[1].1)[0]["id"],
        "the failed batch is sent again from its first event"
    );
    let mut seen = BTreeMap::new();
    check_delivered(&requests, &mut seen);

    // Every event of the organization, in chain order, nothing skipped.
    let stored: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, seq, action FROM audit_events WHERE org_id = $1 ORDER BY seq")
            .bind(org)
            .fetch_all(&app.state.db.pool)
            .await
            .expect("events");
    assert!(stored.len() >= 5, "{stored:?}");
    let received: Vec<(i64, i64, String)> = seen
        .values()
        .map(|e| {
            (
                e["id"].as_i64().unwrap_or_default(),
                e["seq"].as_i64().unwrap_or_default(),
                e["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        received, stored,
        "every event, once each after duplicates, in order"
    );
    assert_eq!(received[0].1, 1);

    // The cursor survives a restart: only what is new is sent.
    let app = app.restart().await;
    app.new_group(&owner, org, "After restart", "2", &[]).await;
    stream_until(&app, &owner, org, 10, |s| s["lag"] == 0).await;
    let after = drain(&mut receiver);
    assert!(!after.is_empty(), "the new event was sent");
    let first_after = verified_lines(&after[0].0, &after[0].1)[0]["seq"].as_i64();
    assert_eq!(
        first_after,
        Some(stored.last().map_or(0, |e| e.1) + 1),
        "nothing acknowledged is sent again"
    );
    check_delivered(&after, &mut seen);
    assert!(seen
        .values()
        .any(|e| e["action"] == "group.created"
            && e["details"].to_string().contains("After restart")));
}

async fn splunk_hec_and_the_panels_rules(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let mut receiver = start_receiver(&[]).await;

    // The outbound guard, https, the secret, and one stream per format.
    for (url, secret, field) in [
        ("http://10.0.0.5/ingest", "a-long-enough-secret", "url"),
        ("http://example.com/ingest", "a-long-enough-secret", "url"),
        ("not a url", "a-long-enough-secret", "url"),
        (receiver.url.as_str(), "short", "secret"),
    ] {
        add_stream(&app, &owner, org, "json_lines", url, secret)
            .await
            .expect_error(422, "invalid_input", Some(field));
    }
    add_stream(&app, &owner, org, "syslog", &receiver.url, SECRET)
        .await
        .expect_error(422, "invalid_input", Some("kind"));
    add_stream(
        &app,
        &owner,
        org,
        "splunk_hec",
        &receiver.url,
        "hec-token-123",
    )
    .await
    .expect_status(200);
    add_stream(
        &app,
        &owner,
        org,
        "splunk_hec",
        &receiver.url,
        "hec-token-456",
    )
    .await
    .expect_error(409, "conflict", Some("kind"));
    let secret_stored: (String,) = sqlx::query_as("SELECT secret FROM audit_streams")
        .fetch_one(&app.state.db.pool)
        .await
        .expect("row");
    assert!(
        !secret_stored.0.contains("hec-token"),
        "the token is stored encrypted"
    );

    stream_until(&app, &owner, org, 10, |s| s["lag"] == 0).await;
    let requests = drain(&mut receiver);
    assert!(!requests.is_empty());
    let (headers, body) = &requests[0];
    assert_eq!(header(headers, "authorization"), "Splunk hec-token-123");
    let events: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(events[0]["sourcetype"], "gatehouse:audit", "{body}");
    assert_eq!(events[0]["event"]["seq"], 1, "{body}");
    assert_eq!(
        events[0]["time"], events[0]["event"]["created_at"],
        "{body}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"]["action"] == "audit_stream.added"),
        "{body}"
    );

    // Owners only; another organization's stream is not found.
    let (admin, _) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    app.call(&admin, "org/audit_streams", &[("org_id", &org.to_string())])
        .await
        .expect_error(403, "forbidden", None);
    let id = streams(&app, &owner, org).await["streams"][0]["id"]
        .as_i64()
        .expect("id");
    let (stranger, other) = app.new_org("stranger@example.com", "Other").await;
    app.call(
        &stranger,
        "org/audit_streams/remove",
        &[
            ("org_id", &other.to_string()),
            ("stream_id", &id.to_string()),
        ],
    )
    .await
    .expect_status(404);
    app.call(
        &owner,
        "org/audit_streams/remove",
        &[("org_id", &org.to_string()), ("stream_id", &id.to_string())],
    )
    .await
    .expect_status(200);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_streams").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'audit_stream.removed'")
            .await,
        1
    );
}
