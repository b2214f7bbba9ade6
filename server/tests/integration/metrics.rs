//! `/metrics` on its own address: request counts and latencies by route template and status,
//! the pool, the delivery backlog, the scan queue, sign-in failures and lockouts.

use crate::common;

use common::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_address_only() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.metrics_addr = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await
    .expect("app");
    let metrics_url = format!(
        "http://{}/metrics",
        app.metrics_addr.expect("a metrics address")
    );
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    app.get(&owner, "/members", &[("accept", "text/html")])
        .await
        .expect_status(200);
    app.get(&owner, "/groups/12345", &[("accept", "text/html")])
        .await;
    app.sign_in(&app.new_client(), "owner@example.com", "wrong password")
        .await
        .expect_status(401);
    let group = app.new_group(&owner, org, "Red Team", "1", &[]).await;
    app.call(
        &owner,
        "scans/create",
        &[
            ("org_id", &org.to_string()),
            ("group_id", &group.to_string()),
            ("target", "https://app.example.com"),
        ],
    )
    .await
    .expect_status(200);

    let text = reqwest::get(&metrics_url)
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics body");
    for expected in [
        r#"gatehouse_http_requests_total{method="GET",route="/members",status="200"}"#,
        r#"route="/groups/{id}""#,
        r#"gatehouse_http_requests_total{method="POST",route="/api/sign_in",status="401"}"#,
        "gatehouse_http_request_duration_seconds_bucket{",
        "gatehouse_http_requests_in_flight",
        r#"gatehouse_sign_in_failures_total{reason="wrong_password"}"#,
        r#"gatehouse_db_pool_connections{state="idle"}"#,
        "gatehouse_db_pool_wait_seconds",
        r#"gatehouse_scans{status="queued"} 1"#,
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from /metrics:\n{text}"
        );
    }
    assert!(
        !text.contains("12345"),
        "ids never become label values:\n{text}"
    );
    // Not on the app's own address.
    app.get(&owner, "/metrics", &[]).await.expect_status(404);
}
