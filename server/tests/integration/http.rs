//! The HTTP surface around the app: health, cross-site protection, static files.

use crate::common;

use common::{Backend, TestApp, PASSWORD};

on_both_databases!(
    healthz_reports_the_database,
    cross_site_posts_are_refused,
    each_page_is_built_once_per_render
);

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

/// The values a page hands the browser for hydration: `(id, payload)` of each
/// `__RESOLVED_RESOURCES[id] = "…";` in its HTML (payloads still escaped as Rust debug strings).
fn serialized_values(html: &str) -> Vec<(u64, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("__RESOLVED_RESOURCES[") {
        rest = &rest[at + "__RESOLVED_RESOURCES[".len()..];
        let Some((id, after)) = rest.split_once("] = \"") else {
            continue;
        };
        let Ok(id) = id.parse() else { continue };
        let mut payload = String::new();
        let mut chars = after.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    payload.push(c);
                    payload.extend(chars.next());
                }
                '"' => break,
                _ => payload.push(c),
            }
        }
        found.push((id, payload));
    }
    found
}

/// A Suspense boundary around a page walks its children twice before it renders them: the
/// shell once had one, and every page was built three times per render, ran its queries
/// three times and sent each value three times (`/settings` sent 21 for 7). Each value a
/// page sends must be sent once.
async fn each_page_is_built_once_per_render(app: TestApp) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    for path in [
        "/",
        "/members",
        "/groups",
        "/scans",
        "/settings",
        "/profile",
        "/audit",
    ] {
        let resp = app
            .get(&client, path, &[("accept", "text/html")])
            .await
            .expect_status(200);
        let values = serialized_values(&resp.body);
        assert!(
            values.iter().any(|(_, v)| v.contains("ada@example.com")),
            "{path} carries the session: {values:?}\n{}",
            resp.body
        );
        let mut seen: std::collections::HashMap<&str, Vec<u64>> = Default::default();
        for (id, value) in &values {
            seen.entry(value.as_str()).or_default().push(*id);
        }
        // Short values ("Ok(null)", an empty list) may come from different resources.
        for (value, ids) in seen.iter().filter(|(v, _)| v.len() > 40) {
            assert!(
                ids.len() == 1,
                "{path} sent one value {} times (ids {ids:?}): {value}",
                ids.len()
            );
        }
    }
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
