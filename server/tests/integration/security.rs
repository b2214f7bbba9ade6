//! The outside security review's findings, each as a test that failed on the code it reviewed:
//! server-side request forgery through integrations, the open redirect after sign-in, the
//! client-chosen IP behind a proxy, check-then-increment lockouts, argon2 exhaustion, mail
//! relaying, integration settings shown to everyone, sudo mode, and response headers.

use crate::common;

use common::receiver::{next_request, start_receiver};
use common::two_factor::{code_at, enable};
use common::{Backend, TestApp, PASSWORD};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_databases!(
    parallel_wrong_passwords_are_evaluated_at_most_the_limit,
    parallel_wrong_codes_are_evaluated_at_most_five,
    sensitive_actions_need_a_recent_authentication,
    changing_the_password_signs_out_other_sessions,
    resending_is_limited_and_a_revived_invitation_needs_a_seat,
    integration_settings_are_shown_only_to_editors,
);

const SECRET: &str = "a-signing-secret-for-tests";

/// Gatehouse with the default outbound policy: no internal destination allowed.
async fn spawn_strict() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| c.outbound_allow = String::new())
        .await
        .expect("app")
}

fn webhook_form<'a>(org: &'a str, group: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("org_id", org),
        ("group_id", group),
        ("kind", "webhook"),
        ("enabled", "on"),
        ("url", url),
        ("secret", SECRET),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_and_slack_cannot_be_aimed_at_internal_addresses() {
    let app = spawn_strict().await;
    let mut receiver = start_receiver(&[]).await;
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .unwrap_or_default()
        .to_string();
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let group = app.new_group(&owner, org, "Red Team", "1", &[]).await;
    let (org_s, group_s) = (org.to_string(), group.to_string());
    let host = std::process::Command::new("hostname")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|h| !h.is_empty());
    let mut internal = vec![
        receiver.url.clone(),
        format!("http://localhost:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        format!("http://0x7f.0.0.1:{port}/hook"),
        format!("http://127.1:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/hook".to_string(),
        "http://[fd00::1]/hook".to_string(),
    ];
    // This machine's own name resolves to one of its addresses.
    if let Some(host) = &host {
        let inward = tokio::net::lookup_host((host.as_str(), 80))
            .await
            .map(|mut addrs| addrs.all(|a| !app::outbound::is_public(a.ip())))
            .unwrap_or(false);
        if inward {
            internal.push(format!("http://{host}:{port}/hook"));
        }
    }
    for url in &internal {
        let resp = app
            .call(
                &owner,
                "integrations/save",
                &webhook_form(&org_s, &group_s, url),
            )
            .await
            .expect_error(422, "invalid_input", Some("webhook_url"));
        assert!(
            resp.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("private or internal network")),
            "{url}: {}",
            resp.body
        );
    }
    // The same over REST, and on the New group form.
    let key = app.create_key(&owner, org, "groups:write", "30").await;
    app.api(
        "PUT",
        &format!("/api/v1/groups/{group}/integrations/webhook"),
        Some(&key),
        Some(
            json!({"enabled": true, "url": format!("http://localhost:{port}/"), "secret": SECRET}),
        ),
    )
    .await
    .expect_error(422, "invalid_input", Some("webhook_url"));
    app.group_form(
        &owner,
        org,
        "Blue Team",
        "1",
        &[
            ("webhook_enabled", "on"),
            ("webhook_url", "http://169.254.169.254/"),
            ("webhook_secret", SECRET),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("webhook_url"));
    // Slack takes Slack's incoming webhook URLs and nothing else.
    for url in [
        receiver.url.as_str(),
        "https://example.com/services/T/B/X",
        "http://hooks.slack.com/services/T/B/X",
    ] {
        app.call(
            &owner,
            "integrations/save",
            &[
                ("org_id", org_s.as_str()),
                ("group_id", group_s.as_str()),
                ("kind", "slack"),
                ("enabled", "on"),
                ("url", url),
            ],
        )
        .await
        .expect_error(422, "invalid_input", Some("slack_url"));
    }
    app.call(
        &owner,
        "integrations/save",
        &[
            ("org_id", org_s.as_str()),
            ("group_id", group_s.as_str()),
            ("kind", "slack"),
            ("enabled", "on"),
            ("url", "https://hooks.slack.com/services/T000/B000/XXXX"),
        ],
    )
    .await
    .expect_status(200);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM group_integrations WHERE kind = 'webhook' AND url IS NOT NULL"
        )
        .await,
        0,
        "no refused webhook was stored"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), receiver.requests.recv())
            .await
            .is_err(),
        "the internal receiver was never contacted"
    );
}

/// A URL saved while an operator allowed it is refused when sent once the allowance is gone:
/// the check runs on the addresses connected to, at every send (so a name that starts to
/// resolve inward is refused too). The answer names no internal detail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_checked_again_on_the_address_connected_to() {
    let mut receiver = start_receiver(&[]).await;
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let host = std::process::Command::new("hostname")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let by_name = format!("http://{host}:{port}");
    let inward = tokio::net::lookup_host((host.as_str(), 80))
        .await
        .map(|mut a| a.all(|a| !app::outbound::is_public(a.ip())))
        .unwrap_or(false);
    let allow = if inward {
        format!("127.0.0.1,{host}")
    } else {
        "127.0.0.1".to_string()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.outbound_allow = allow)
        .await
        .expect("app");
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let (org_s, mut urls) = (org.to_string(), vec![receiver.url.clone()]);
    if inward {
        urls.push(by_name);
    }
    let mut groups = Vec::new();
    for (n, url) in urls.iter().enumerate() {
        let group = app
            .new_group(
                &owner,
                org,
                &format!("Group {n}"),
                "1",
                &[
                    ("webhook_enabled", "on"),
                    ("webhook_url", url),
                    ("webhook_secret", SECRET),
                ],
            )
            .await;
        groups.push(group);
    }
    // Allowed: delivered.
    let group_s = groups[0].to_string();
    let ok = app
        .call(
            &owner,
            "integrations/test",
            &[
                ("org_id", &org_s),
                ("group_id", &group_s),
                ("kind", "webhook"),
            ],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(ok["status"], "delivered", "{ok}");
    next_request(&mut receiver).await;

    // The operator takes the allowance back: the same stored URLs are refused when sent.
    let mut config = app.config().clone();
    config.outbound_allow = String::new();
    let app = app.restart_with(config).await;
    for group in &groups {
        let group_s = group.to_string();
        let refused = app
            .call(
                &owner,
                "integrations/test",
                &[
                    ("org_id", &org_s),
                    ("group_id", &group_s),
                    ("kind", "webhook"),
                ],
            )
            .await
            .expect_status(200)
            .json();
        assert_eq!(refused["status"], "failed", "{refused}");
        let error = refused["error"].as_str().unwrap_or_default();
        assert_eq!(
            error,
            "Gatehouse does not send to this address: it is in a private or internal network. The operator of this Gatehouse can allow it with --outbound-allow.",
            "{refused}"
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), receiver.requests.recv())
            .await
            .is_err(),
        "nothing reached the receiver after the allowance was removed"
    );
}

/// A test delivery that fails says what a person can act on, not the connector's internals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_test_deliveries_do_not_echo_connection_errors() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let url = format!("http://{closed}/hook");
    let group = app
        .new_group(
            &owner,
            org,
            "Red Team",
            "1",
            &[
                ("webhook_enabled", "on"),
                ("webhook_url", &url),
                ("webhook_secret", SECRET),
            ],
        )
        .await;
    let failed = app
        .call(
            &owner,
            "integrations/test",
            &[
                ("org_id", &org.to_string()),
                ("group_id", &group.to_string()),
                ("kind", "webhook"),
            ],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("Could not connect to the receiver."),
        "{failed}"
    );
    for internal in [
        "os error",
        "tcp connect",
        "Connection refused",
        "hyper",
        "127.0.0.1",
    ] {
        assert!(!error.contains(internal), "{internal} in {error}");
    }
    // Test events are limited per group: each may send mail to twenty addresses.
    for _ in 1..10 {
        app.call(
            &owner,
            "integrations/test",
            &[
                ("org_id", &org.to_string()),
                ("group_id", &group.to_string()),
                ("kind", "webhook"),
            ],
        )
        .await
        .expect_status(200);
    }
    let limited = app
        .call(
            &owner,
            "integrations/test",
            &[
                ("org_id", &org.to_string()),
                ("group_id", &group.to_string()),
                ("kind", "email"),
            ],
        )
        .await
        .expect_error(429, "rate_limited", None);
    assert!(limited.header("retry-after").is_some(), "{}", limited.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_redirects_only_to_paths_on_this_site() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Acme")
        .await
        .expect_status(200);
    let html = [("accept", "text/html")];
    for (next, expected) in [
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/members?q=a", "/members?q=a"),
    ] {
        let browser = app.new_client();
        let resp = app
            .call_with(
                &browser,
                "sign_in",
                &[
                    ("email", "ada@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
                &html,
            )
            .await;
        assert_eq!(resp.status, 302, "{}: {}", resp.request, resp.body);
        assert_eq!(
            resp.header("location").as_deref(),
            Some(expected),
            "{}",
            resp.request
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_the_client_address_is_the_one_the_proxy_added() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.trust_proxy = true)
        .await
        .expect("app");
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Acme")
        .await
        .expect_status(200);
    // The client wrote its own entry; our proxy appended the address it saw.
    let spoofed = [("x-forwarded-for", "6.6.6.6, 203.0.113.9")];
    app.call_with(
        &app.new_client(),
        "sign_in",
        &[("email", "ada@example.com"), ("password", PASSWORD)],
        &spoofed,
    )
    .await
    .expect_status(200);
    let (ip,): (Option<String>,) = sqlx::query_as(
        "SELECT ip FROM audit_events WHERE action = 'user.sign_in' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .expect("audit row");
    assert_eq!(ip.as_deref(), Some("203.0.113.9"));
    // Rate limits count that address, whatever the client writes to the left of it.
    let counted = app
        .count("SELECT COUNT(*) FROM rate_limits WHERE bucket = 'signin-ip:203.0.113.9'")
        .await;
    assert_eq!(counted, 1);
}

async fn parallel_wrong_passwords_are_evaluated_at_most_the_limit(app: TestApp) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Acme")
        .await
        .expect_status(200);
    let attempts = (0..200).map(|_| {
        let app = &app;
        async move {
            app.sign_in(&app.new_client(), "ada@example.com", "wrong password!")
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let evaluated = results.iter().filter(|r| r.status == 401).count();
    let refused = results
        .iter()
        .filter(|r| r.status == 429 || r.status == 503)
        .count();
    assert!(
        evaluated <= 10,
        "{evaluated} of 200 parallel wrong passwords were checked; the account limit is 10"
    );
    assert_eq!(
        evaluated + refused,
        200,
        "every attempt was answered 401, 429 or 503"
    );
    // The correct password is refused too while the account is limited.
    app.sign_in(&app.new_client(), "ada@example.com", PASSWORD)
        .await
        .expect_error(429, "rate_limited", None);
}

async fn parallel_wrong_codes_are_evaluated_at_most_five(app: TestApp) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Acme")
        .await
        .expect_status(200);
    let (secret, _) = enable(&app, &client).await;
    app.call(&client, "sign_out", &[]).await.expect_status(200);
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    let attempts = (0..200).map(|_| {
        let (app, client) = (&app, &client);
        async move {
            app.call(client, "sign_in/second_factor", &[("code", "000000")])
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let evaluated = results
        .iter()
        .filter(|r| r.status == 422 || r.status == 401)
        .count();
    assert!(
        evaluated <= 5,
        "{evaluated} of 200 parallel wrong codes were checked; at most 5 may be"
    );
    assert!(
        results
            .iter()
            .filter(|r| r.status == 429)
            .all(|r| r.body.contains("second_factor_locked")),
        "the rest are refused as locked"
    );
    // The lock holds against the right code, and a success never lifts it.
    let right = code_at(&secret, app.now());
    app.call(&client, "sign_in/second_factor", &[("code", &right)])
        .await
        .expect_error(429, "second_factor_locked", None);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'user.second_factor_locked'")
            .await,
        1,
        "the lock is audited once"
    );
}

/// A flood of invitation acceptances and sign-ups does not starve people signing in: links
/// are checked before any hashing, account creation is limited per address, and the queue in
/// front of argon2 is bounded (503 with Retry-After when full).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bogus_acceptances_does_not_starve_sign_in() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    app.sign_up(&app.new_client(), "Ada", "ada@example.com", "Acme")
        .await
        .expect_status(200);
    let bogus_token = "ab".repeat(32);
    let acceptances = (0..200).map(|n| {
        let (app, token) = (&app, bogus_token.clone());
        async move {
            let name = format!("Mallory {n}");
            app.call(
                &app.new_client(),
                "invitations/accept_new",
                &[
                    ("token", token.as_str()),
                    ("name", name.as_str()),
                    ("password", PASSWORD),
                ],
            )
            .await
        }
    });
    let sign_ups = (0..100).map(|n| {
        let app = &app;
        async move {
            let email = format!("flood{n}@example.com");
            app.sign_up(&app.new_client(), "Flood", &email, "Flood")
                .await
        }
    });
    let flood = async {
        let (acceptances, sign_ups) = tokio::join!(
            futures::future::join_all(acceptances),
            futures::future::join_all(sign_ups)
        );
        (acceptances, sign_ups)
    };
    let sign_in = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let resp = app
            .sign_in(&app.new_client(), "ada@example.com", PASSWORD)
            .await;
        (resp, started.elapsed())
    };
    let ((acceptances, sign_ups), (signed_in, took)) = tokio::join!(flood, sign_in);
    signed_in.expect_status(200);
    assert!(
        took < Duration::from_secs(2),
        "a real sign-in took {took:?} under the flood"
    );
    assert!(
        acceptances.iter().all(|r| r.status == 409),
        "bogus links are refused without hashing: {:?}",
        acceptances.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let busy: Vec<_> = sign_ups.iter().filter(|r| r.status == 503).collect();
    assert!(
        !busy.is_empty(),
        "the hashing queue is bounded: some of 100 simultaneous sign-ups are told to come back"
    );
    for r in &busy {
        assert!(
            r.header("retry-after").is_some() && r.body.contains("\"busy\""),
            "{}",
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_creation_is_limited_per_client_address() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signup_ip_limit = 3)
        .await
        .expect("app");
    for n in 0..3 {
        app.sign_up(
            &app.new_client(),
            "Ada",
            &format!("ada{n}@example.com"),
            "Acme",
        )
        .await
        .expect_status(200);
    }
    let limited = app
        .sign_up(&app.new_client(), "Ada", "ada9@example.com", "Acme")
        .await
        .expect_error(429, "rate_limited", None);
    assert!(limited.header("retry-after").is_some());
}

/// Links in email and on screen come from --public-url (or the address Gatehouse listens
/// on), never from the request's Host header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_links_never_take_their_host_from_the_request() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let key = app.create_key(&owner, org, "members:write", "30").await;
    let resp = app
        .client
        .post(app.url("/api/v1/invitations"))
        .bearer_auth(&key)
        .header("host", "evil.example")
        .json(&json!({"name": "Grace", "email": "grace@example.com", "role": "user"}))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 201);
    let body: serde_json::Value = resp.json().await.expect("json");
    let link = body["link"].as_str().unwrap_or_default();
    let expected = format!("http://localhost:{}/invite/", app.addr.port());
    assert!(link.starts_with(&expected), "{link}");

    let public = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = Some("https://gatehouse.example.com/".into())
    })
    .await
    .expect("app");
    let (owner, org) = public.new_org("owner@example.com", "Acme").await;
    let sent = public
        .invite(&owner, org, "Grace", "grace@example.com", "user")
        .await
        .expect_status(200)
        .json();
    assert!(
        sent["link"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://gatehouse.example.com/invite/")),
        "{sent}"
    );
}

async fn resending_is_limited_and_a_revived_invitation_needs_a_seat(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let org_s = org.to_string();
    app.set_plan(&owner, org, "team", "3").await;
    app.invite(&owner, org, "Grace", "grace@example.com", "user")
        .await
        .expect_status(200);
    let id: (i64,) = sqlx::query_as("SELECT id FROM invitations WHERE email = 'grace@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .expect("invitation");
    let id_s = id.0.to_string();
    let form = [("org_id", org_s.as_str()), ("id", id_s.as_str())];
    let resend = || app.call(&owner, "invitations/resend", &form);
    for _ in 0..5 {
        resend().await.expect_status(200);
    }
    resend().await.expect_error(429, "rate_limited", None);

    // Eight days later the invitation has expired and holds no seat; the seat goes to
    // someone else. (The Owner uses Gatehouse meanwhile, so the session stays.)
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(4 * 24 * 3600));
        app.session(&owner).await;
    }
    app.invite(&owner, org, "Alan", "alan@example.com", "user")
        .await
        .expect_status(200);
    app.invite(&owner, org, "Barbara", "barbara@example.com", "user")
        .await
        .expect_status(200);
    let refused = resend().await.expect_error(409, "conflict", None);
    assert!(refused.body.contains("seats"), "{}", refused.body);
    let pending = app
        .count(&format!(
            "SELECT COUNT(*) FROM invitations WHERE org_id = {org} AND status = 'pending' AND expires_at > {}",
            app.now()
        ))
        .await;
    assert_eq!(pending, 2, "the refused resend revived nothing");
}

async fn integration_settings_are_shown_only_to_editors(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let (user, user_id) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    let receiver_url = "http://127.0.0.1:9/secret-path";
    let group = app
        .new_group(
            &owner,
            org,
            "Red Team",
            "1",
            &[
                ("webhook_enabled", "on"),
                ("webhook_url", receiver_url),
                ("webhook_secret", SECRET),
                ("email_enabled", "on"),
                ("email_recipients", "soc@example.com"),
                ("member_ids", &user_id.to_string()),
            ],
        )
        .await;
    let form = [("org_id", org.to_string()), ("group_id", group.to_string())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let editor = app
        .call(&owner, "integrations/get", &form)
        .await
        .expect_status(200)
        .json();
    assert_eq!(editor["webhook_url"], receiver_url, "{editor}");
    let member = app
        .call(&user, "integrations/get", &form)
        .await
        .expect_status(200)
        .json();
    assert_eq!(member["webhook_enabled"], true, "{member}");
    assert_eq!(member["email_enabled"], true, "{member}");
    assert_eq!(member["can_edit"], false, "{member}");
    let shown = member.to_string();
    for secret in ["secret-path", "soc@example.com"] {
        assert!(!shown.contains(secret), "{secret} shown to a User: {shown}");
    }
    assert_eq!(member["deliveries"], json!([]), "{member}");
}

async fn sensitive_actions_need_a_recent_authentication(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let org_s = org.to_string();
    // Right after signing in, sensitive actions work.
    let key_form = [
        ("name", "ci"),
        ("org_id", org_s.as_str()),
        ("scopes", "org:read"),
        ("expiry", "30"),
    ];
    app.call(&owner, "api_keys/create", &key_form)
        .await
        .expect_status(200);
    // Eleven minutes later they ask the person to confirm it is them.
    app.clock.advance(Duration::from_secs(11 * 60));
    for (function, form) in [
        ("api_keys/create", key_form.to_vec()),
        ("two_factor/start", vec![]),
        (
            "org/delete",
            vec![("org_id", org_s.as_str()), ("confirm", "Acme")],
        ),
        (
            "auth/change_password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", "a new passphrase"),
            ],
        ),
    ] {
        app.call(&owner, function, &form).await.expect_error(
            403,
            "reauthentication_required",
            None,
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM organizations").await, 1);
    app.call(
        &owner,
        "auth/confirm_access",
        &[("password", "not my password")],
    )
    .await
    .expect_error(422, "invalid_input", Some("password"));
    app.call(&owner, "auth/confirm_access", &[("password", PASSWORD)])
        .await
        .expect_status(200);
    app.call(&owner, "api_keys/create", &key_form)
        .await
        .expect_status(200);

    // With 2FA on, confirming needs a code too.
    let (secret, _) = enable(&app, &owner).await;
    app.clock.advance(Duration::from_secs(11 * 60));
    app.call(&owner, "auth/confirm_access", &[("password", PASSWORD)])
        .await
        .expect_error(422, "invalid_input", Some("code"));
    let code = code_at(&secret, app.now());
    app.call(
        &owner,
        "auth/confirm_access",
        &[("password", PASSWORD), ("code", &code)],
    )
    .await
    .expect_status(200);
    app.call(&owner, "two_factor/recovery_codes", &[("code", &code)])
        .await
        .expect_error(422, "invalid_input", Some("code"));
    // Confirming is limited like signing in.
    for _ in 0..10 {
        app.call(
            &owner,
            "auth/confirm_access",
            &[("password", "wrong wrong")],
        )
        .await;
    }
    app.call(
        &owner,
        "auth/confirm_access",
        &[("password", PASSWORD), ("code", &code)],
    )
    .await
    .expect_error(429, "rate_limited", None);
}

async fn changing_the_password_signs_out_other_sessions(app: TestApp) {
    let laptop = app.new_client();
    app.sign_up(&laptop, "Ada", "ada@example.com", "Acme")
        .await
        .expect_status(200);
    let phone = app.new_client();
    app.sign_in(&phone, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    app.call(
        &laptop,
        "auth/change_password",
        &[
            ("current_password", "wrong password"),
            ("new_password", "another passphrase"),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("current_password"));
    app.call(
        &laptop,
        "auth/change_password",
        &[("current_password", PASSWORD), ("new_password", "short")],
    )
    .await
    .expect_error(422, "invalid_input", Some("new_password"));
    app.call(
        &laptop,
        "auth/change_password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "another passphrase"),
        ],
    )
    .await
    .expect_status(200);
    assert!(!app.session(&laptop).await.is_null(), "this session stays");
    assert!(
        app.session(&phone).await.is_null(),
        "the other session ended"
    );
    app.sign_in(&app.new_client(), "ada@example.com", PASSWORD)
        .await
        .expect_error(401, "invalid_credentials", None);
    app.sign_in(&app.new_client(), "ada@example.com", "another passphrase")
        .await
        .expect_status(200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'user.password_changed'")
            .await,
        2,
        "audited in the organization and on the user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_send_a_content_security_policy_and_cookies_follow_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = Some("https://gatehouse.example.com".into())
    })
    .await
    .expect("app");
    let client = app.new_client();
    let page = app
        .get(&client, "/signin", &[("accept", "text/html")])
        .await
        .expect_status(200);
    let csp = page
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP on {}", page.request));
    for directive in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"));
    let scripts = page.body.matches("<script").count();
    let with_nonce = page.body.matches(&format!("nonce=\"{nonce}\"")).count();
    assert!(
        scripts > 0 && scripts == with_nonce,
        "{scripts} scripts, {with_nonce} with the nonce"
    );
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("same-origin")
    );
    let api = app.get(&client, "/api/v1/me", &[]).await;
    assert!(
        api.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")),
        "{:?}",
        api.headers
    );
    // The public URL is https: cookies are Secure without --secure-cookies.
    let signed_up = app
        .sign_up(&client, "Ada", "ada@example.com", "Acme")
        .await
        .expect_status(200);
    let cookie = signed_up.header("set-cookie").unwrap_or_default();
    assert!(cookie.contains("; Secure"), "{cookie}");
}
