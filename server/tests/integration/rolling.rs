//! A rolling restart of two replicas on one PostgreSQL: the replica asked to stop drains
//! (its `/healthz` says `draining` while it still serves, each answer closing its
//! connection), then stops accepting and leaves; the other replica never waits for it.

use crate::common;

use common::{Backend, TestApp};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_stops_drains_and_the_other_never_waits_for_it() {
    // No per-key budget: b writes as fast as it can for about 3 s, which is near the default
    // 600 a minute (the budget has tests of its own in api.rs).
    let Some(mut a) = TestApp::spawn_with(Backend::Postgres, |c| {
        c.drain_seconds = 2;
        c.api_rate_limit = 0;
    })
    .await
    else {
        eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL to run this test on PostgreSQL");
        return;
    };
    let b = a.replica().await;
    a.cache_live(true).await;
    b.cache_live(true).await;
    let (owner, org) = a.new_org("owner@example.com", "Org").await;
    let key = a.create_key(&owner, org, "groups:write", "30").await;
    // Each replica has heard the other (their heartbeats and pings), so a change on b waits
    // for a's answer.
    for n in 0..3 {
        b.api(
            "POST",
            "/api/v1/groups",
            Some(&key),
            Some(json!({"name": format!("warm-{n}"), "scans_limit": 1})),
        )
        .await
        .expect_status(201);
    }

    // Writes on b all along, timed.
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (client, base, key) = (b.client.clone(), b.url(""), key.clone());
        let (slowest, stop) = (slowest.clone(), stop.clone());
        async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let started = Instant::now();
                let resp = client
                    .post(format!("{base}/api/v1/groups"))
                    .bearer_auth(&key)
                    .json(&json!({"name": format!("b-{n}"), "scans_limit": 1}))
                    .send()
                    .await
                    .expect("b answers");
                assert_eq!(resp.status(), 201, "a write on b");
                let took = started.elapsed();
                let mut s = slowest.lock().expect("slowest");
                *s = (*s).max(took);
            }
            n
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    a.sigterm();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Draining: a says so, and still serves, closing each connection after its answer.
    let health = a.get(&a.new_client(), "/healthz", &[]).await;
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.json()["status"], "draining", "{}", health.body);
    assert_eq!(health.header("connection").as_deref(), Some("close"));
    let served = a
        .api(
            "POST",
            "/api/v1/groups",
            Some(&key),
            Some(json!({"name": "while-draining", "scans_limit": 1})),
        )
        .await
        .expect_status(201);
    assert_eq!(served.header("connection").as_deref(), Some("close"));
    // Then it stops, and is gone.
    a.stopped().await.expect("a stops cleanly");
    let refused = reqwest::Client::new()
        .get(a.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "a accepted a connection after stopping");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let writes = writer.await.expect("writer");
    let slowest = *slowest.lock().expect("slowest");
    eprintln!("figure: {writes} writes on b while a drained and stopped; slowest {slowest:?}");
    // The key cache waits at most 2 s for a silent replica; one that leaves says so.
    assert!(
        slowest < Duration::from_millis(1500),
        "a write on b waited {slowest:?} for the replica that left"
    );
}
