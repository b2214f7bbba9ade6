//! No response may hang: a render that never finishes is answered at the response deadline.
//!
//! This holds `SuppressResourceLoad`, under which Leptos resources never resolve (the cause of
//! the stall in `stall.rs`), so it lives in its own test binary: the flag is process-wide.

mod common;

use common::{Backend, TestApp};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_never_renders_is_answered_at_the_deadline() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.request_deadline = 1)
        .await
        .expect("sqlite app");
    let (client, _org) = app.new_org("ada@example.com", "Analytical Engines").await;
    app.get(&client, "/members", &[]).await.expect_status(200);

    let stalled = leptos::server::SuppressResourceLoad::new();
    let started = Instant::now();
    let resp = app.get(&client, "/members", &[]).await;
    let took = started.elapsed();
    drop(stalled);

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
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "answered after {took:?}, expected about the 1 s deadline"
    );
    // Once renders can finish again, the same page works.
    app.get(&client, "/members", &[]).await.expect_status(200);
}
