//! The HTTP surface around the app: health, cross-site protection, static files.

mod common;

use common::{Backend, TestApp, PASSWORD};

on_both_databases!(healthz_reports_the_database, cross_site_posts_are_refused);

async fn healthz_reports_the_database(app: TestApp) {
    let client = app.new_client();
    let resp = app.get(&client, "/healthz", &[]).await.expect_status(200);
    assert_eq!(
        resp.json(),
        serde_json::json!({"status": "ok", "database": "ok"})
    );
    assert!(
        resp.header("x-request-id").is_some(),
        "every response carries a request id"
    );
    app.state.db.pool.close().await;
    let down = app.get(&client, "/healthz", &[]).await.expect_status(503);
    assert_eq!(down.json()["database"], "unreachable", "{}", down.body);
}

async fn cross_site_posts_are_refused(app: TestApp) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    let form = [("email", "ada@example.com"), ("password", PASSWORD)];
    let evil_origin = [("origin", "https://evil.example")];
    let resp = app.call_with(&client, "sign_in", &form, &evil_origin).await;
    resp.expect_error(403, "cross_site_request", None);
    let cross_fetch = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ];
    app.call_with(&client, "sign_out", &[], &cross_fetch)
        .await
        .expect_status(403);
    assert!(
        !app.session(&client).await.is_null(),
        "the cross-site sign-out changed nothing"
    );
    // Our own pages' requests pass.
    let own = format!("http://{}", app.addr);
    let same = [("origin", own.as_str()), ("sec-fetch-site", "same-origin")];
    app.call_with(&client, "sign_out", &[], &same)
        .await
        .expect_status(200);
    assert!(app.session(&client).await.is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_database_is_a_wal_file_in_the_data_dir() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&app.state.db.pool)
        .await
        .expect("pragma");
    assert_eq!(mode.to_lowercase(), "wal");
}

/// Pages are streamed in several small writes. Without `TCP_NODELAY` on accepted sockets,
/// Nagle's algorithm holds each later write until the client's delayed ACK: every page on a
/// kept-alive connection took about 40 ms, whatever its work. Ten pages on one connection:
/// the fastest of the nine reused-connection requests must be far under that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_on_a_kept_alive_connection_are_not_held_by_nagle() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .expect("client");
    let mut times = Vec::new();
    for _ in 0..10 {
        let started = std::time::Instant::now();
        let resp = client
            .get(app.url("/signin"))
            .header("accept", "text/html")
            .send()
            .await
            .expect("response");
        assert_eq!(resp.status().as_u16(), 200);
        resp.text().await.expect("whole page");
        times.push(started.elapsed());
    }
    let fastest_reused = times[1..].iter().min().copied().unwrap_or_default();
    assert!(
        fastest_reused < std::time::Duration::from_millis(20),
        "the fastest page on a kept-alive connection took {fastest_reused:?}: {times:?}"
    );
}
