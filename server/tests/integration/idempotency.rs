//! `Idempotency-Key` on the REST API's POSTs: a retry gets the first answer, on another
//! replica and after a restart, for 24 hours; another body with the same key is refused.

use crate::common;

use common::{Resp, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

on_both_databases!(
    a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing,
    concurrent_retries_make_one_change,
);

async fn post(app: &TestApp, key: &str, idempotency: Option<&str>, body: &Value) -> Resp {
    let mut req = app
        .client
        .post(app.url("/api/v1/groups"))
        .bearer_auth(key)
        .json(body);
    if let Some(idempotency) = idempotency {
        req = req.header("idempotency-key", idempotency);
    }
    Resp::from(
        format!("POST /api/v1/groups idempotency-key={idempotency:?} body={body}"),
        req.send().await,
    )
    .await
}

async fn groups(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM groups").await
}

async fn a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, "groups:write", "30").await;
    let body = json!({"name": "Red Team", "scans_limit": 2});
    let first = post(&app, &key, Some("create-red-team"), &body)
        .await
        .expect_status(201);
    let again = post(&app, &key, Some("create-red-team"), &body)
        .await
        .expect_status(201);
    assert_eq!(again.json(), first.json(), "the first answer");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert!(first.header("idempotent-replayed").is_none());
    assert_eq!(groups(&app).await, 1);
    // Without the key, the same request is a second one (refused: the name is taken).
    post(&app, &key, None, &body)
        .await
        .expect_error(409, "conflict", Some("name"));
    // The same key for another request: refused, nothing made.
    post(
        &app,
        &key,
        Some("create-red-team"),
        &json!({"name": "Blue Team", "scans_limit": 1}),
    )
    .await
    .expect_error(422, "idempotency_key_reused", None);
    assert_eq!(groups(&app).await, 1);
    // A refusal is an answer too: kept and given again, even once the input would pass.
    post(
        &app,
        &key,
        Some("bad-limit"),
        &json!({"name": "Green", "scans_limit": 0}),
    )
    .await
    .expect_error(422, "invalid_input", Some("scans_limit"));
    let replayed = post(
        &app,
        &key,
        Some("bad-limit"),
        &json!({"name": "Green", "scans_limit": 0}),
    )
    .await
    .expect_error(422, "invalid_input", Some("scans_limit"));
    assert_eq!(
        replayed.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    // A key that is not one: named.
    post(&app, &key, Some(&"x".repeat(300)), &body)
        .await
        .expect_error(422, "invalid_input", Some("Idempotency-Key"));
    // Keys are per API key: another key's "create-red-team" is its own.
    let other = app.create_key(&owner, org, "groups:write", "30").await;
    post(
        &app,
        &other,
        Some("create-red-team"),
        &json!({"name": "Other Team", "scans_limit": 1}),
    )
    .await
    .expect_status(201);

    // Another replica, and a restart, give the same first answer.
    let replica = app.replica().await;
    let from_replica = post(&replica, &key, Some("create-red-team"), &body)
        .await
        .expect_status(201);
    assert_eq!(from_replica.json(), first.json());
    let app = app.restart().await;
    let after_restart = post(&app, &key, Some("create-red-team"), &body)
        .await
        .expect_status(201);
    assert_eq!(after_restart.json(), first.json());
    assert_eq!(groups(&app).await, 2);
    // After 24 hours the key is forgotten: the request runs again.
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    post(&app, &key, Some("create-red-team"), &body)
        .await
        .expect_error(409, "conflict", Some("name"));
    let pruned = app::maintenance::prune(&app.state).await.expect("prune");
    assert!(pruned.idempotency_keys >= 2, "{pruned:?}");
}

async fn concurrent_retries_make_one_change(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app.create_key(&owner, org, "groups:write", "30").await;
    for round in 0..5 {
        let body = json!({"name": format!("Team {round}"), "scans_limit": 1});
        let idem = format!("team-{round}");
        let sends: Vec<_> = (0..6)
            .map(|_| post(&app, &key, Some(&idem), &body))
            .collect();
        let answers = futures::future::join_all(sends).await;
        for answer in &answers {
            assert!(
                answer.status == 201
                    || (answer.status == 409 && answer.json()["code"] == "idempotency_key_in_use"),
                "round {round}: {} -> {} {}",
                answer.request,
                answer.status,
                answer.body
            );
        }
        assert!(answers.iter().any(|a| a.status == 201), "round {round}");
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM groups WHERE name = 'Team {round}'"
            ))
            .await,
            1,
            "round {round}"
        );
    }
}
