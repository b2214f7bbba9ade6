//! PostgreSQL stopped and started under load (a server of the test's own, see
//! `common/own_postgres.rs`): while it is down, `/healthz` answers 503 within its second,
//! every request is answered 503 `database_unavailable` with `Retry-After` within
//! `--db-timeout`, pages say Gatehouse cannot reach its database; nothing acknowledged is lost,
//! retries with an `Idempotency-Key` make each change once, and service comes back by itself.

use crate::common;

use common::own_postgres::OwnPostgres;
use common::{Backend, TestApp};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The wait for a database connection in this test (`--db-timeout`).
const DB_TIMEOUT_SECS: u64 = 2;

#[derive(Default)]
struct Tally {
    /// Answers by status and code.
    answers: BTreeMap<String, usize>,
    /// Names whose creation was acknowledged (201, or a replay of it).
    acknowledged: Vec<String>,
    /// The slowest answer while the database was down.
    slowest_down: Duration,
    /// Answers that are not one of: 201, 503 database_unavailable, 409 idempotency_key_in_use.
    unexpected: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_is_answered_fast_and_honestly_and_loses_nothing() {
    let Some(mut pg) = OwnPostgres::start().await else {
        eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL (and install PostgreSQL's binaries) to run this test");
        return;
    };
    let url = pg.url();
    let app = TestApp::spawn_with(Backend::Postgres, move |c| {
        c.database_url = Some(url);
        c.db_timeout = DB_TIMEOUT_SECS;
        // The test's writers are one client; the per-key budget is not what is measured.
        c.api_rate_limit = 0;
    })
    .await
    .expect("app on the test's own PostgreSQL");
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app
        .create_key(&owner, org, "groups:write groups:read", "30")
        .await;

    for outage in [Duration::from_secs(5), Duration::from_secs(30)] {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let down = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (client, base, key) = (app.client.clone(), app.url(""), key.clone());
                let (tally, down, stop) = (tally.clone(), down.clone(), stop.clone());
                let run = format!("{}s", outage.as_secs());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let name = format!("w{w}-{run}-{n}");
                        let idem = format!("create-{name}");
                        // One change, retried with its key until it is acknowledged.
                        loop {
                            let started = Instant::now();
                            let sent = client
                                .post(format!("{base}/api/v1/groups"))
                                .bearer_auth(&key)
                                .header("idempotency-key", &idem)
                                .json(&json!({"name": name, "scans_limit": 1}))
                                .send()
                                .await;
                            let took = started.elapsed();
                            let (status, code) = match sent {
                                Ok(resp) => {
                                    let status = resp.status().as_u16();
                                    let body: serde_json::Value =
                                        resp.json().await.unwrap_or_default();
                                    (status, body["code"].as_str().unwrap_or("").to_string())
                                }
                                Err(err) => (0, format!("no answer: {err}")),
                            };
                            let acknowledged = {
                                let mut t = tally.lock().expect("tally");
                                *t.answers.entry(format!("{status} {code}")).or_default() += 1;
                                if down.load(Ordering::SeqCst) {
                                    t.slowest_down = t.slowest_down.max(took);
                                }
                                match (status, code.as_str()) {
                                    (201, _) => {
                                        t.acknowledged.push(name.clone());
                                        true
                                    }
                                    (503, "database_unavailable")
                                    | (409, "idempotency_key_in_use") => false,
                                    _ => {
                                        t.unexpected.push(format!("{name}: {status} {code}"));
                                        false
                                    }
                                }
                            };
                            if acknowledged {
                                break;
                            }
                            if stop.load(Ordering::SeqCst) && status != 503 {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;

        pg.stop_server();
        down.store(true, Ordering::SeqCst);
        let stopped_at = Instant::now();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The health check: a clear 503 within its second, not a balancer's timeout.
        let started = Instant::now();
        let health = app.get(&app.new_client(), "/healthz", &[]).await;
        let health_took = started.elapsed();
        assert_eq!(health.status, 503, "{}", health.body);
        assert!(
            health_took < Duration::from_millis(1500),
            "/healthz took {health_took:?} while the database was down"
        );
        // A read: 503 database_unavailable with Retry-After, within the wait.
        let started = Instant::now();
        let read = app
            .api("GET", "/api/v1/groups", Some(&key), None)
            .await
            .expect_error(503, "database_unavailable", None);
        let read_took = started.elapsed();
        assert!(read.header("retry-after").is_some(), "{:?}", read.headers);
        assert!(
            read_took < Duration::from_secs(DB_TIMEOUT_SECS) + Duration::from_millis(1500),
            "a read took {read_took:?} while the database was down"
        );
        // A page says what is wrong.
        let page = app
            .get(&owner, "/members", &[("accept", "text/html")])
            .await;
        assert_eq!(page.status, 503, "{}", page.body);
        assert!(
            page.body.contains("Gatehouse cannot reach its database"),
            "{}",
            page.body
        );

        tokio::time::sleep(outage.saturating_sub(stopped_at.elapsed())).await;
        pg.start_server().await;
        let restarted_at = Instant::now();
        down.store(false, Ordering::SeqCst);
        // Back by itself, without a restart of Gatehouse.
        loop {
            let health = app.get(&app.new_client(), "/healthz", &[]).await;
            if health.status == 200 {
                break;
            }
            assert!(
                restarted_at.elapsed() < Duration::from_secs(30),
                "not healthy 30 s after the database came back: {}",
                health.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let recovered = restarted_at.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.await.expect("writer");
        }

        let t = std::mem::take(&mut *tally.lock().expect("tally"));
        assert!(
            t.unexpected.is_empty(),
            "{}s outage: answers other than 201, 503 database_unavailable or 409 in use: {:?}",
            outage.as_secs(),
            t.unexpected
        );
        // Every acknowledged change is there, exactly once.
        let prefix = format!("%-{}s-%", outage.as_secs());
        let stored = app
            .count(&format!(
                "SELECT COUNT(*) FROM groups WHERE name LIKE '{prefix}'"
            ))
            .await;
        assert_eq!(
            stored as usize,
            t.acknowledged.len(),
            "{}s outage: {} acknowledged, {stored} stored; answers {:?}",
            outage.as_secs(),
            t.acknowledged.len(),
            t.answers
        );
        let requests: usize = t.answers.values().sum();
        eprintln!(
            "figure: {}s outage: {requests} requests, answers {:?}; {} changes acknowledged, all stored once; \
             slowest answer while down {:?}; /healthz 503 in {health_took:?}; a read 503 in {read_took:?}; \
             healthy {recovered:?} after the database",
            outage.as_secs(),
            t.answers,
            t.acknowledged.len(),
            t.slowest_down,
        );
    }
}
