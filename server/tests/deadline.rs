//! No response may hang: a response whose headers are not ready in time is answered 503 at
//! the response deadline, and a page whose body stalls after its head went out is cut there.
//!
//! This holds `SuppressResourceLoad`, under which Leptos resources never resolve (the cause of
//! the stall in `integration/stall.rs`), so it lives in its own test binary: the flag is
//! process-wide, and would freeze the pages of every other test running beside it.

#[path = "integration/common/mod.rs"]
mod common;

use common::{Backend, TestApp};
use std::time::{Duration, Instant};

fn about_the_deadline(took: Duration) -> bool {
    took >= Duration::from_millis(900) && took < Duration::from_secs(5)
}

/// The page streams its head at once (the session was read before it rendered) and then
/// waits on its members list, which never loads: the body ends with an error at the
/// deadline, so the browser sees a cut page, not a complete-looking one or a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_render_never_finishes_is_cut_at_the_deadline() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.request_deadline = 1)
        .await
        .expect("sqlite app");
    let (client, _org) = app.new_org("ada@example.com", "Analytical Engines").await;
    app.get(&client, "/members", &[]).await.expect_status(200);

    let stalled = leptos::server::SuppressResourceLoad::new();
    let started = Instant::now();
    let resp = client
        .get(app.url("/members"))
        .send()
        .await
        .expect("the head of the page");
    let status = resp.status();
    let body = resp.text().await;
    let took = started.elapsed();
    drop(stalled);

    assert_eq!(
        status.as_u16(),
        200,
        "GET /members: the head went out first"
    );
    assert!(
        body.is_err(),
        "GET /members: the body should end with an error at the deadline, got {body:?}"
    );
    assert!(
        about_the_deadline(took),
        "GET /members: cut after {took:?}, expected about the 1 s deadline"
    );
    // Once renders can finish again, the same page works.
    app.get(&client, "/members", &[]).await.expect_status(200);
}

/// The database holds a REST call's query (a lock on the memberships table, taken by another
/// transaction): the call is answered 503 `deadline_exceeded` before any header went out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_query_stalls_is_answered_503_at_the_deadline() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |c| c.request_deadline = 1).await else {
        eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL to run this test on PostgreSQL");
        return;
    };
    let (client, org) = app.new_org("ada@example.com", "Analytical Engines").await;
    let key = app.create_key(&client, org, "members:read", "30").await;
    app.api("GET", "/api/v1/members", Some(&key), None)
        .await
        .expect_status(200);

    let mut lock = app.state.db.pool.begin().await.expect("a transaction");
    sqlx::query("LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("the lock");
    let started = Instant::now();
    let resp = app.api("GET", "/api/v1/members", Some(&key), None).await;
    let took = started.elapsed();
    lock.rollback().await.expect("the lock released");

    let resp = resp.expect_error(503, "deadline_exceeded", None);
    assert_eq!(
        resp.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{}",
        resp.request
    );
    assert!(
        resp.header("x-request-id").is_some(),
        "the answer names its request for the logs"
    );
    assert!(
        about_the_deadline(took),
        "{}: answered after {took:?}, expected about the 1 s deadline",
        resp.request
    );
    app.api("GET", "/api/v1/members", Some(&key), None)
        .await
        .expect_status(200);
}
