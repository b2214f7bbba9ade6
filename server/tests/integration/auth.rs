//! Sign up, sign in, sign out, sessions and their limits, against the real server.

use crate::common;

use common::{Backend, TestApp, PASSWORD};
use std::time::Duration;

on_both_databases!(
    sign_up_creates_an_owner_and_signs_in,
    sign_out_ends_the_session_everywhere,
    sign_in_with_wrong_password_or_unknown_email_answers_the_same,
    duplicate_email_is_refused_case_insensitively,
    bad_input_is_refused_next_to_its_field_and_changes_nothing,
    sessions_expire_when_idle_and_absolutely,
    sign_in_rotates_the_session_id,
    auth_events_are_audited,
    pages_redirect_signed_out_visitors_and_render_the_org_for_members,
);

async fn sign_up_creates_an_owner_and_signs_in(app: TestApp) {
    let client = app.new_client();
    assert!(
        app.session(&client).await.is_null(),
        "a new visitor has no session"
    );
    let resp = app
        .sign_up(
            &client,
            "Ada Lovelace",
            "ada@example.com",
            "Analytical Engines",
        )
        .await
        .expect_status(200);
    let cookie = resp
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "cookie flags: {cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "no Secure flag unless configured: {cookie}"
    );

    let session = app.session(&client).await;
    assert_eq!(session["name"], "Ada Lovelace", "{session}");
    assert_eq!(session["email"], "ada@example.com", "{session}");
    assert_eq!(
        session["current_org"]["name"], "Analytical Engines",
        "{session}"
    );
    assert_eq!(session["current_org"]["role"], "owner", "{session}");
    // The token is stored only as a hash.
    let token = resp.session_cookie().expect("session cookie");
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE id_hash = '{token}'"
        ))
        .await;
    assert_eq!(stored, 0, "the raw session token must not be stored");
}

async fn sign_out_ends_the_session_everywhere(app: TestApp) {
    let client = app.new_client();
    let token = app
        .sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200)
        .session_cookie();
    let token = token.expect("session cookie");
    app.call(&client, "sign_out", &[]).await.expect_status(200);
    assert!(app.session(&client).await.is_null(), "signed out");
    // Replaying the old cookie from another client gets nothing either.
    let other = app.new_client();
    let resp = app
        .call_with(
            &other,
            "session",
            &[],
            &[("cookie", &format!("gatehouse_session={token}"))],
        )
        .await;
    assert!(
        resp.expect_status(200).json().is_null(),
        "a signed-out session id must be dead"
    );
}

async fn sign_in_with_wrong_password_or_unknown_email_answers_the_same(app: TestApp) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    let browser = app.new_client();
    let wrong = app
        .sign_in(&browser, "ada@example.com", "not the password")
        .await
        .expect_error(401, "invalid_credentials", None);
    let unknown = app
        .sign_in(&browser, "nobody@example.com", PASSWORD)
        .await
        .expect_error(401, "invalid_credentials", None);
    assert_eq!(
        wrong.body, unknown.body,
        "no user enumeration: the answers must be identical"
    );
    assert!(app.session(&browser).await.is_null());
    // Email is matched case-insensitively.
    app.sign_in(&browser, "ADA@Example.com", PASSWORD)
        .await
        .expect_status(200);
    assert_eq!(app.session(&browser).await["email"], "ada@example.com");
}

async fn duplicate_email_is_refused_case_insensitively(app: TestApp) {
    app.sign_up(&app.new_client(), "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    let resp = app
        .sign_up(&app.new_client(), "Other Ada", "ADA@EXAMPLE.COM", "Org 2")
        .await;
    resp.expect_error(409, "conflict", Some("email"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM organizations").await,
        1,
        "the failed sign-up left no organization"
    );
}

async fn bad_input_is_refused_next_to_its_field_and_changes_nothing(app: TestApp) {
    let client = app.new_client();
    let long = "x".repeat(129);
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("name", "Ada"),
                ("email", "ada@example.com"),
                ("password", "short"),
                ("organization", "Org"),
            ],
            "password",
        ),
        (
            &[
                ("name", "Ada"),
                ("email", "ada@example.com"),
                ("password", &long),
                ("organization", "Org"),
            ],
            "password",
        ),
        (
            &[
                ("name", "Ada"),
                ("email", "not-an-email"),
                ("password", PASSWORD),
                ("organization", "Org"),
            ],
            "email",
        ),
        (
            &[
                ("name", "  "),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("organization", "Org"),
            ],
            "name",
        ),
        (
            &[
                ("name", "Ada"),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("organization", ""),
            ],
            "organization",
        ),
    ];
    for (form, field) in cases {
        app.call(&client, "sign_up", form)
            .await
            .expect_error(422, "invalid_input", Some(field));
    }
    // A missing field is a clear 4xx, not a crash.
    let resp = app.call(&client, "sign_up", &[("name", "Ada")]).await;
    assert!(
        (400..500).contains(&resp.status),
        "missing fields: {} {}",
        resp.status,
        resp.body
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users").await,
        0,
        "nothing was created"
    );
    assert!(app.session(&client).await.is_null());
}

async fn sessions_expire_when_idle_and_absolutely(app: TestApp) {
    let idle = app.new_client();
    app.sign_up(&idle, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    app.clock.advance(Duration::from_secs(6 * 24 * 3600));
    assert!(
        !app.session(&idle).await.is_null(),
        "6 idle days: still signed in"
    );
    app.clock.advance(Duration::from_secs(6 * 24 * 3600));
    assert!(
        !app.session(&idle).await.is_null(),
        "activity 6 days ago: still signed in"
    );
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    assert!(
        app.session(&idle).await.is_null(),
        "7 idle days: signed out"
    );

    // Used every day, a session still ends 30 days after sign-in.
    let busy = app.new_client();
    app.sign_in(&busy, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    for _ in 0..29 {
        app.clock.advance(Duration::from_secs(24 * 3600));
        assert!(!app.session(&busy).await.is_null());
    }
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert!(
        app.session(&busy).await.is_null(),
        "absolute expiry after 30 days"
    );
}

async fn sign_in_rotates_the_session_id(app: TestApp) {
    let client = app.new_client();
    let first = app
        .sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .session_cookie()
        .expect("cookie");
    let second = app
        .sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200)
        .session_cookie()
        .expect("cookie");
    assert_ne!(first, second, "a new id at every sign-in");
    let other = app.new_client();
    let old = app
        .call_with(
            &other,
            "session",
            &[],
            &[("cookie", &format!("gatehouse_session={first}"))],
        )
        .await;
    assert!(
        old.expect_status(200).json().is_null(),
        "the id from before sign-in is dead"
    );
}

async fn auth_events_are_audited(app: TestApp) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    app.call(&client, "sign_out", &[]).await.expect_status(200);
    app.sign_in(&client, "ada@example.com", "wrong password")
        .await
        .expect_status(401);
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT action, ip FROM audit_events ORDER BY id")
            .fetch_all(&app.state.db.pool)
            .await
            .expect("audit rows");
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.sign_up",
            "user.sign_out",
            "user.sign_in_failed",
            // In the organization's log, where its admins see it, and once for the account.
            "user.sign_in",
            "user.sign_in"
        ]
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'user.sign_in' AND org_id IS NOT NULL")
            .await,
        1
    );
    assert!(
        rows.iter().all(|r| r.1.as_deref() == Some("127.0.0.1")),
        "client IP recorded: {rows:?}"
    );
}

async fn pages_redirect_signed_out_visitors_and_render_the_org_for_members(app: TestApp) {
    let html = [("accept", "text/html")];
    let visitor = app.new_client();
    let resp = app.get(&visitor, "/members", &html).await;
    assert_eq!(
        resp.status, 302,
        "{} -> {} {}",
        resp.request, resp.status, resp.body
    );
    assert_eq!(resp.header("location").as_deref(), Some("/signin"));
    let signin = app.get(&visitor, "/signin", &html).await.expect_status(200);
    assert!(signin.body.contains("<h1>Sign in</h1>"), "{}", signin.body);

    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Analytical Engines")
        .await
        .expect_status(200);
    let home = app.get(&client, "/", &html).await.expect_status(200);
    assert!(home.body.contains("Analytical Engines"), "{}", home.body);
    let members = app.get(&client, "/members", &html).await.expect_status(200);
    assert!(members.body.contains("ada@example.com"), "{}", members.body);

    let missing = app
        .get(&client, "/no-such-page", &html)
        .await
        .expect_status(404);
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
}

async fn rate_limits_sign_in(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.signin_account_limit = 3;
        c.signin_ip_limit = 8;
    })
    .await
    else {
        eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL to run this test on PostgreSQL");
        return;
    };
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    for _ in 0..3 {
        app.sign_in(&client, "ada@example.com", "wrong password")
            .await
            .expect_status(401);
    }
    // The account is locked for the window, even with the right password.
    let locked = app
        .sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_error(429, "rate_limited", None);
    let retry: u64 = locked
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After header");
    assert!(retry > 0 && retry <= 900, "Retry-After {retry}");
    app.clock.advance(Duration::from_secs(901));
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);

    // Per client IP: attempts on any accounts count.
    for i in 0..8 {
        let resp = app
            .sign_in(
                &client,
                &format!("someone{i}@example.com"),
                "whatever password",
            )
            .await;
        if resp.status == 429 {
            assert!(i >= 3, "limited too early, at attempt {i}");
            return;
        }
    }
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_error(429, "rate_limited", None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_sign_in_on_sqlite() {
    rate_limits_sign_in(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_sign_in_on_postgres() {
    rate_limits_sign_in(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_sign_up_can_be_turned_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.disable_signup = true)
        .await
        .expect("app");
    app.sign_up(&app.new_client(), "Ada", "ada@example.com", "Org")
        .await
        .expect_error(403, "forbidden", None);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}
