//! Scans against the real server: access through group membership, the concurrent scans
//! limit under 200 concurrent claims, a silent runner's scan going back to the queue (on the
//! injected clock), cancel, and scan events reaching the group's webhook.

use crate::common;

use common::receiver::{next_request, start_receiver};
use common::TestApp;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

on_both_databases!(
    access_follows_group_membership,
    the_limit_holds_under_200_concurrent_claims,
    a_silent_runners_scan_goes_back_to_the_queue,
    cancelled_scans_never_start_and_stop_their_runner,
    scan_events_reach_the_groups_webhook,
    queued_scans_say_why_they_wait_and_each_scan_has_a_page,
);

const SCAN_SCOPES: &str = "scans:read scans:write";

async fn create_scan(app: &TestApp, key: &str, group: i64, target: &str) -> common::Resp {
    app.api(
        "POST",
        "/api/v1/scans",
        Some(key),
        Some(json!({"group_id": group, "target": target})),
    )
    .await
}

/// `POST /api/v1/scans/{scan}/{action}` (heartbeat, finish, cancel) with `key`.
async fn scan_call(
    app: &TestApp,
    key: &str,
    scan: i64,
    action: &str,
    body: Option<Value>,
) -> common::Resp {
    app.api(
        "POST",
        &format!("/api/v1/scans/{scan}/{action}"),
        Some(key),
        body,
    )
    .await
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

async fn running(app: &TestApp, group: i64) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM scans WHERE group_id = {group} AND status = 'running'"
    ))
    .await
}

async fn access_follows_group_membership(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (ursula, ursula_id) = app
        .add_member(&owner, org, "ursula@example.com", "user")
        .await;
    let (victor, _) = app
        .add_member(&owner, org, "victor@example.com", "user")
        .await;
    let (billing, _) = app
        .add_member(&owner, org, "billing@example.com", "billing_manager")
        .await;
    let red = app
        .new_group(
            &owner,
            org,
            "Red",
            "2",
            &[("member_ids", &ursula_id.to_string())],
        )
        .await;
    let ursula_key = app.create_key(&ursula, org, SCAN_SCOPES, "30").await;
    let victor_key = app.create_key(&victor, org, SCAN_SCOPES, "30").await;

    // A member of the group starts a scan in it; bad input is explained and creates nothing.
    let scan = create_scan(&app, &ursula_key, red, "https://app.example.com")
        .await
        .expect_status(201)
        .json();
    assert_eq!(scan["status"], "queued", "{scan}");
    assert_eq!(scan["group"], "Red", "{scan}");
    assert!(
        scan["started_by"]
            .as_str()
            .is_some_and(|s| s.contains("ursula@example.com")),
        "{scan}"
    );
    let scan_id = id_of(&scan);
    create_scan(&app, &ursula_key, red, "ftp://files.example.com")
        .await
        .expect_error(422, "invalid_input", Some("target"));
    // Someone outside the group can neither start nor see its scans.
    create_scan(&app, &victor_key, red, "https://app.example.com")
        .await
        .expect_error(404, "not_found", None);
    app.api(
        "GET",
        &format!("/api/v1/scans/{scan_id}"),
        Some(&victor_key),
        None,
    )
    .await
    .expect_error(404, "not_found", None);
    let list = app
        .api("GET", "/api/v1/scans", Some(&victor_key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(list["scans"], json!([]), "{list}");
    // The Owner sees every group's scans; the page's server function answers the same.
    let owner_list = app
        .call(&owner, "scans/list", &[("org_id", &org.to_string())])
        .await
        .expect_status(200)
        .json();
    assert_eq!(owner_list["scans"][0]["id"], scan_id, "{owner_list}");
    // A Billing Manager has no scans at all.
    app.call(&billing, "scans/list", &[("org_id", &org.to_string())])
        .await
        .expect_error(403, "forbidden", None);
    // The member sees it, until they are removed from the group: then 404 at once.
    app.api(
        "GET",
        &format!("/api/v1/scans/{scan_id}"),
        Some(&ursula_key),
        None,
    )
    .await
    .expect_status(200);
    app.call(
        &owner,
        "groups/members/remove",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &red.to_string()),
            ("user_id", &ursula_id.to_string()),
        ],
    )
    .await
    .expect_status(200);
    app.api(
        "GET",
        &format!("/api/v1/scans/{scan_id}"),
        Some(&ursula_key),
        None,
    )
    .await
    .expect_error(404, "not_found", None);
    scan_call(&app, &ursula_key, scan_id, "cancel", None)
        .await
        .expect_error(404, "not_found", None);
    // Another organization's id is not found either.
    let (stranger, other_org) = app.new_org("stranger@example.com", "Other").await;
    let stranger_key = app
        .create_key(&stranger, other_org, SCAN_SCOPES, "30")
        .await;
    app.api(
        "GET",
        &format!("/api/v1/scans/{scan_id}"),
        Some(&stranger_key),
        None,
    )
    .await
    .expect_error(404, "not_found", None);
    // Starting a scan is audited.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'scan.created'")
            .await,
        1
    );
}

/// `n` concurrent claims with `key`; returns the scans handed out.
async fn claim_concurrently(app: &Arc<TestApp>, key: &str, n: usize) -> Vec<i64> {
    let claims = (0..n).map(|_| {
        let app = app.clone();
        let key = key.to_string();
        tokio::spawn(async move {
            let resp = app
                .api("POST", "/api/v1/scans/claim", Some(&key), None)
                .await;
            match resp.status {
                200 => Some(id_of(&resp.json())),
                204 => None,
                _ => panic!("claim: {} {}\n{}", resp.status, resp.body, resp.request),
            }
        })
    });
    let mut claimed = Vec::new();
    for claim in futures::future::join_all(claims).await {
        if let Some(id) = claim.expect("claim task") {
            claimed.push(id);
        }
    }
    claimed
}

async fn the_limit_holds_under_200_concurrent_claims(app: TestApp) {
    let app = Arc::new(app);
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let group = app.new_group(&owner, org, "Load", "3", &[]).await;
    let maker = app.create_key(&owner, org, SCAN_SCOPES, "30").await;
    let runner = app.create_key(&owner, org, SCAN_SCOPES, "30").await;
    let admin_key = app
        .create_key(&owner, org, "groups:write groups:read", "30")
        .await;
    for i in 0..50 {
        create_scan(&app, &maker, group, &format!("https://host{i}.example.com"))
            .await
            .expect_status(201);
    }
    // A watcher counts running scans while the claims race.
    let most = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (app, most, done) = (app.clone(), most.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(running(&app, group).await, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let claimed = claim_concurrently(&app, &runner, 200).await;
    done.store(true, Ordering::SeqCst);
    watcher.await.expect("watcher");
    assert_eq!(
        claimed.len(),
        3,
        "200 claims against a limit of 3 started {claimed:?}"
    );
    assert!(
        most.load(Ordering::SeqCst) <= 3,
        "seen {} running",
        most.load(Ordering::SeqCst)
    );
    assert_eq!(running(&app, group).await, 3);
    // The oldest scans start first.
    let mut sorted = claimed.clone();
    sorted.sort_unstable();
    let first: Vec<i64> = app
        .api(
            "GET",
            &format!("/api/v1/scans?status=queued&limit=200&group_id={group}"),
            Some(&maker),
            None,
        )
        .await
        .json()["scans"]
        .as_array()
        .map(|s| s.iter().map(id_of).collect())
        .unwrap_or_default();
    assert!(
        first.iter().all(|q| *q > sorted[2]),
        "queued {first:?}, claimed {sorted:?}"
    );

    // Raising the limit lets more start at once.
    app.api(
        "PATCH",
        &format!("/api/v1/groups/{group}"),
        Some(&admin_key),
        Some(json!({"scans_limit": 5})),
    )
    .await
    .expect_status(200);
    let more = claim_concurrently(&app, &runner, 20).await;
    assert_eq!(more.len(), 2, "{more:?}");
    assert_eq!(running(&app, group).await, 5);
    // Lowering it lets running scans finish and starts none beyond it.
    app.api(
        "PATCH",
        &format!("/api/v1/groups/{group}"),
        Some(&admin_key),
        Some(json!({"scans_limit": 2})),
    )
    .await
    .expect_status(200);
    assert!(claim_concurrently(&app, &runner, 10).await.is_empty());
    let all_running: Vec<i64> = claimed.iter().chain(more.iter()).copied().collect();
    for id in &all_running[..3] {
        scan_call(
            &app,
            &runner,
            *id,
            "finish",
            Some(json!({"status": "finished", "result": "ok"})),
        )
        .await
        .expect_status(200);
    }
    assert_eq!(running(&app, group).await, 2);
    assert!(
        claim_concurrently(&app, &runner, 10).await.is_empty(),
        "2 running, limit 2"
    );
    scan_call(
        &app,
        &runner,
        all_running[3],
        "finish",
        Some(json!({"status": "failed", "result": "target unreachable"})),
    )
    .await
    .expect_status(200);
    assert_eq!(claim_concurrently(&app, &runner, 10).await.len(), 1);
    assert_eq!(running(&app, group).await, 2);
}

async fn a_silent_runners_scan_goes_back_to_the_queue(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let group = app.new_group(&owner, org, "Blue", "1", &[]).await;
    let first = app.create_key(&owner, org, SCAN_SCOPES, "30").await;
    let second = app.create_key(&owner, org, SCAN_SCOPES, "30").await;
    let scan = id_of(
        &create_scan(&app, &first, group, "https://a.example.com")
            .await
            .expect_status(201)
            .json(),
    );
    let claimed = app
        .api("POST", "/api/v1/scans/claim", Some(&first), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(id_of(&claimed), scan);
    assert_eq!(claimed["status"], "running", "{claimed}");
    // Heartbeats keep it: within the timeout nothing else is handed out.
    app.clock.advance(Duration::from_secs(60));
    scan_call(&app, &first, scan, "heartbeat", None)
        .await
        .expect_status(204);
    app.clock.advance(Duration::from_secs(60));
    app.api("POST", "/api/v1/scans/claim", Some(&second), None)
        .await
        .expect_status(204);
    // Silent past the timeout (90 s): the next claim gets it again.
    app.clock.advance(Duration::from_secs(91));
    let again = app
        .api("POST", "/api/v1/scans/claim", Some(&second), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(id_of(&again), scan);
    assert_eq!(again["attempts"], 2, "{again}");
    // The first runner is told to stop; only the second may report.
    scan_call(&app, &first, scan, "heartbeat", None)
        .await
        .expect_error(409, "conflict", Some("status"));
    scan_call(
        &app,
        &first,
        scan,
        "finish",
        Some(json!({"status": "finished"})),
    )
    .await
    .expect_error(409, "conflict", Some("status"));
    scan_call(
        &app,
        &second,
        scan,
        "finish",
        Some(json!({"status": "cancelled"})),
    )
    .await
    .expect_error(422, "invalid_input", Some("status"));
    let done = app
        .api(
            "POST",
            &format!("/api/v1/scans/{scan}/finish"),
            Some(&second),
            Some(json!({"status": "finished", "result": "2 findings"})),
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["result"], "2 findings", "{done}");
    // The background sweep does the same without a claim.
    let other = id_of(
        &create_scan(&app, &first, group, "https://b.example.com")
            .await
            .expect_status(201)
            .json(),
    );
    app.api("POST", "/api/v1/scans/claim", Some(&first), None)
        .await
        .expect_status(200);
    app.clock.advance(Duration::from_secs(91));
    assert_eq!(
        app::scans::server::requeue_stale(&app.state, None)
            .await
            .expect("sweep"),
        1
    );
    let back = app
        .api("GET", &format!("/api/v1/scans/{other}"), Some(&first), None)
        .await
        .json();
    assert_eq!(back["status"], "queued", "{back}");
}

async fn cancelled_scans_never_start_and_stop_their_runner(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let group = app.new_group(&owner, org, "Green", "5", &[]).await;
    let key = app.create_key(&owner, org, SCAN_SCOPES, "30").await;
    let queued = id_of(
        &create_scan(&app, &key, group, "https://q.example.com")
            .await
            .expect_status(201)
            .json(),
    );
    let running_scan = id_of(
        &create_scan(&app, &key, group, "https://r.example.com")
            .await
            .expect_status(201)
            .json(),
    );
    // Cancel the first from the page (server function), before any claim.
    let cancelled = app
        .call(
            &owner,
            "scans/cancel",
            &[
                ("org_id", &org.to_string()),
                ("scan_id", &queued.to_string()),
            ],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let claimed = app
        .api("POST", "/api/v1/scans/claim", Some(&key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        id_of(&claimed),
        running_scan,
        "a cancelled scan is never claimed"
    );
    app.api("POST", "/api/v1/scans/claim", Some(&key), None)
        .await
        .expect_status(204);
    // Cancel the running one over REST: its runner's next heartbeat says stop.
    scan_call(&app, &key, running_scan, "cancel", None)
        .await
        .expect_status(200);
    scan_call(&app, &key, running_scan, "heartbeat", None)
        .await
        .expect_error(409, "conflict", Some("status"));
    // Cancelling twice is a conflict.
    scan_call(&app, &key, queued, "cancel", None)
        .await
        .expect_error(409, "conflict", Some("status"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'scan.cancelled'")
            .await,
        2
    );
    // Scopes: a read-only key may list but not start, cancel or claim.
    let reader = app.create_key(&owner, org, "scans:read", "30").await;
    app.api("GET", "/api/v1/scans", Some(&reader), None)
        .await
        .expect_status(200);
    for path in [
        "/api/v1/scans/claim".to_string(),
        format!("/api/v1/scans/{queued}/cancel"),
    ] {
        app.api("POST", &path, Some(&reader), None)
            .await
            .expect_error(403, "insufficient_scope", None);
    }
    create_scan(&app, &reader, group, "https://x.example.com")
        .await
        .expect_error(403, "insufficient_scope", None);
}

async fn scan_events_reach_the_groups_webhook(app: TestApp) {
    let mut receiver = start_receiver(&[]).await;
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let group = app
        .new_group(
            &owner,
            org,
            "Hooked",
            "1",
            &[
                ("webhook_enabled", "on"),
                ("webhook_url", &receiver.url),
                ("webhook_secret", "a-signing-secret-of-some-length"),
            ],
        )
        .await;
    let key = app.create_key(&owner, org, SCAN_SCOPES, "30").await;
    let scan = id_of(
        &create_scan(&app, &key, group, "https://e.example.com")
            .await
            .expect_status(201)
            .json(),
    );
    app.api("POST", "/api/v1/scans/claim", Some(&key), None)
        .await
        .expect_status(200);
    let (headers, body) = next_request(&mut receiver).await;
    let started: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(started["event"], "scan.started", "{started}");
    assert_eq!(started["data"]["scan_id"], scan, "{started}");
    assert!(headers.contains_key("x-gatehouse-signature"), "{headers:?}");
    scan_call(
        &app,
        &key,
        scan,
        "finish",
        Some(json!({"status": "finished", "result": "clean"})),
    )
    .await
    .expect_status(200);
    let (_, body) = next_request(&mut receiver).await;
    let finished: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(finished["event"], "scan.finished", "{finished}");
    assert_eq!(finished["data"]["status"], "finished", "{finished}");
    assert_eq!(finished["data"]["result"], "clean", "{finished}");
}

async fn queued_scans_say_why_they_wait_and_each_scan_has_a_page(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (user, user_id) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    let red = app
        .new_group(
            &owner,
            org,
            "Red Team",
            "2",
            &[("member_ids", &user_id.to_string())],
        )
        .await;
    let other = app.new_group(&owner, org, "Other", "1", &[]).await;
    let key = app.create_key(&owner, org, SCAN_SCOPES, "30").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let scan = create_scan(&app, &key, red, &format!("https://t{i}.example.com"))
            .await
            .expect_status(201)
            .json();
        ids.push(id_of(&scan));
    }
    let hidden = id_of(
        &create_scan(&app, &key, other, "https://hidden.example.com")
            .await
            .expect_status(201)
            .json(),
    );
    for _ in 0..2 {
        app.api("POST", "/api/v1/scans/claim", Some(&key), None)
            .await
            .expect_status(200);
    }
    // Claims take the oldest first: ids[0] and ids[1] run (or the Other group's scan, when a
    // claim picks that group; then one Red Team scan runs).
    let org_s = org.to_string();
    let red_scans = || async {
        app.call(
            &user,
            "scans/list",
            &[("org_id", &org_s), ("group_id", &red.to_string())],
        )
        .await
        .expect_status(200)
        .json()
    };
    let list = red_scans().await;
    let scans = list["scans"].as_array().unwrap_or_else(|| panic!("{list}"));
    let running = scans.iter().filter(|s| s["status"] == "running").count() as i64;
    let queued: Vec<&Value> = scans.iter().filter(|s| s["status"] == "queued").collect();
    assert_eq!(running + queued.len() as i64, 5, "{list}");
    // Newest first: the last queued one in the list is next in line.
    for (i, s) in queued.iter().rev().enumerate() {
        assert_eq!(
            s["waiting"],
            json!({"running": running, "limit": 2, "place": i as i64 + 1}),
            "{list}"
        );
        assert!(s["heartbeat_at"].is_null(), "{list}");
    }

    // The scan's page: the runner's result, and 404 for a scan the member may not see.
    let done = scans
        .iter()
        .find(|s| s["status"] == "running")
        .map(id_of)
        .unwrap_or_else(|| panic!("a running scan in {list}"));
    let long_result = format!(
        "<script>alert(1)</script>{}",
        "\nline of output".repeat(500)
    );
    scan_call(
        &app,
        &key,
        done,
        "finish",
        Some(json!({"status": "finished", "result": long_result})),
    )
    .await
    .expect_status(200);
    let scan = app
        .call(
            &user,
            "scans/get",
            &[("org_id", &org_s), ("scan_id", &done.to_string())],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        (&scan["status"], &scan["result"], &scan["attempts"]),
        (&json!("finished"), &json!(long_result), &json!(1)),
        "{scan}"
    );
    app.call(
        &user,
        "scans/get",
        &[("org_id", &org_s), ("scan_id", &hidden.to_string())],
    )
    .await
    .expect_error(404, "not_found", None);
    let page = app
        .get(&user, &format!("/scans/{done}"), &[])
        .await
        .expect_status(200);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.request
    );
    assert!(!page.body.contains("<script>alert(1)"), "{}", page.request);

    // The group page's figures.
    let group = app
        .call(
            &user,
            "scans/group",
            &[("org_id", &org_s), ("group_id", &red.to_string())],
        )
        .await
        .expect_status(200)
        .json();
    let usage = &group["usage"];
    assert_eq!(usage["limit"], 2, "{group}");
    assert_eq!(
        usage["running"].as_i64().unwrap_or(-1) + usage["queued"].as_i64().unwrap_or(-1),
        4,
        "{group}"
    );
    assert_eq!(group["recent"].as_array().map(Vec::len), Some(5), "{group}");
    app.call(
        &user,
        "scans/group",
        &[("org_id", &org_s), ("group_id", &other.to_string())],
    )
    .await
    .expect_error(404, "not_found", None);
    let (stranger, _) = app.new_org("stranger@example.com", "Elsewhere").await;
    app.call(
        &stranger,
        "scans/group",
        &[("org_id", &org_s), ("group_id", &red.to_string())],
    )
    .await
    .expect_error(404, "not_found", None);

    // A deep backlog: places are counted up to 1,000, and a scan further back says so.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
         INSERT INTO scans (org_id, group_id, target, status, created_at)
         SELECT $1, $2, 'https://deep.example.com', 'queued', 0 FROM n",
    )
    .bind(org)
    .bind(red)
    .execute(&app.state.db.pool)
    .await
    .unwrap_or_else(|e| panic!("seeding the backlog: {e}"));
    let deep = red_scans().await;
    let newest = &deep["scans"][0];
    // Ahead of the newest: 1,000 seeded + the original queued ones, more than are counted.
    assert_eq!(newest["waiting"]["place"], 1001, "{}", deep["scans"][0]);
    let page = app
        .get(&user, &format!("/scans/{}", id_of(newest)), &[])
        .await
        .expect_status(200);
    assert!(
        page.body.contains("1,000 or more scans ahead"),
        "{}: {}",
        page.request,
        page.body
    );
}
