//! Nothing lost when things fail: a change and its audit event commit together, an invitation
//! whose email fails keeps its link, and one actor cannot grow a queue without bound.

use crate::common;

use common::receiver::{next_request, start_receiver};
use common::{Backend, TestApp};
use std::time::{Duration, Instant};

const SECRET: &str = "a-signing-secret-for-tests";

/// A receiver that accepts connections and never answers: each attempt waits for the
/// delivery timeout.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind black hole");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}/hook")
}

/// A group with its webhook on `url`; returns its id.
async fn hooked_group(
    app: &TestApp,
    owner: &reqwest::Client,
    org: i64,
    name: &str,
    url: &str,
) -> i64 {
    app.new_group(
        owner,
        org,
        name,
        "1",
        &[
            ("webhook_enabled", "on"),
            ("webhook_url", url),
            ("webhook_secret", SECRET),
        ],
    )
    .await
}

/// A settings change of the group: one `group.settings_changed` delivery.
async fn touch_group(app: &TestApp, owner: &reqwest::Client, org: i64, group: i64, n: usize) {
    let (org, group) = (org.to_string(), group.to_string());
    let description = format!("change {n}");
    app.call(
        owner,
        "groups/update",
        &[
            ("org_id", org.as_str()),
            ("group_id", group.as_str()),
            ("name", "Group"),
            ("description", description.as_str()),
            ("scans_limit", "1"),
        ],
    )
    .await
    .expect_status(200);
}

on_both_databases!(
    a_change_that_cannot_be_audited_does_not_happen,
    scans_beyond_a_groups_queue_cap_are_refused,
    a_dead_receiver_with_a_backlog_does_not_delay_another_organization,
    expired_rows_are_pruned_and_live_ones_kept,
);

/// Makes every audit write fail (the table is renamed away), or undoes that.
async fn audit_log_available(app: &TestApp, available: bool) {
    let sql = if available {
        "ALTER TABLE audit_events_offline RENAME TO audit_events"
    } else {
        "ALTER TABLE audit_events RENAME TO audit_events_offline"
    };
    sqlx::query(sql)
        .execute(&app.state.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn a_change_that_cannot_be_audited_does_not_happen(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let org_s = org.to_string();
    let (_member, member_id) = app
        .add_member(&owner, org, "member@example.com", "user")
        .await;
    let member_s = member_id.to_string();
    let group = app.new_group(&owner, org, "Red Team", "2", &[]).await;
    let group_s = group.to_string();
    let counts = || async {
        (
            app.count(&format!(
                "SELECT COUNT(*) FROM organizations WHERE id = {org} AND name = 'Acme' AND seats = 10"
            ))
            .await,
            app.count(&format!(
                "SELECT COUNT(*) FROM memberships WHERE org_id = {org} AND user_id = {member_id} AND role = 'user'"
            ))
            .await,
            app.count(&format!("SELECT COUNT(*) FROM groups WHERE org_id = {org}"))
                .await,
            app.count(&format!(
                "SELECT COUNT(*) FROM invitations WHERE org_id = {org} AND status = 'pending'"
            ))
            .await,
            app.count(&format!("SELECT COUNT(*) FROM group_members WHERE group_id = {group}"))
                .await,
        )
    };
    let before = counts().await;
    assert_eq!(before, (1, 1, 1, 0, 0));

    audit_log_available(&app, false).await;
    let attempts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "org/rename",
            vec![("org_id", &org_s), ("organization", "Renamed")],
        ),
        (
            "members/role",
            vec![
                ("org_id", &org_s),
                ("user_id", &member_s),
                ("role", "admin"),
            ],
        ),
        (
            "billing/update",
            vec![
                ("org_id", &org_s),
                ("plan", "team"),
                ("seats", "20"),
                ("billing_email", ""),
            ],
        ),
        (
            "groups/create",
            vec![
                ("org_id", &org_s),
                ("name", "Blue Team"),
                ("scans_limit", "1"),
            ],
        ),
        (
            "groups/members/add",
            vec![
                ("org_id", &org_s),
                ("group_id", &group_s),
                ("user_id", &member_s),
            ],
        ),
        (
            "invitations/create",
            vec![
                ("org_id", &org_s),
                ("name", "New"),
                ("email", "new@example.com"),
                ("role", "user"),
            ],
        ),
        (
            "members/remove",
            vec![("org_id", &org_s), ("user_id", &member_s)],
        ),
        ("org/delete", vec![("org_id", &org_s), ("confirm", "Acme")]),
    ];
    for (function, form) in &attempts {
        app.call(&owner, function, form)
            .await
            .expect_error(500, "internal", None);
        assert_eq!(
            counts().await,
            before,
            "{function}: the change was kept although its audit event failed"
        );
    }

    audit_log_available(&app, true).await;
    app.call(
        &owner,
        "org/rename",
        &[("org_id", &org_s), ("organization", "Renamed")],
    )
    .await
    .expect_status(200);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE org_id = {org} AND action = 'org.renamed'"
        ))
        .await,
        1,
        "the rename that went through is audited once, the refused one not at all"
    );
    app.call(
        &owner,
        "org/delete",
        &[("org_id", &org_s), ("confirm", "Renamed")],
    )
    .await
    .expect_status(200);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.deleted' AND target = 'org:{org}'"
        ))
        .await,
        1,
        "the deletion and its event committed together"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_whose_email_fails_keeps_its_link() {
    // An SMTP server that is not there: the port was free a moment ago.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{closed_port}"));
    })
    .await
    .expect("app");
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let sent = app
        .invite(&owner, org, "Grace", "grace@example.com", "user")
        .await
        .expect_status(200)
        .json();
    assert_eq!(sent["emailed"], false, "{sent}");
    assert_eq!(sent["email_failed"], true, "{sent}");
    let token = common::token_of(&sent["link"]);
    let accepted = app.new_client();
    app.call(
        &accepted,
        "invitations/accept_new",
        &[
            ("token", &token),
            ("name", "Grace"),
            ("password", common::PASSWORD),
        ],
    )
    .await
    .expect_status(200);
    assert_eq!(app.org_id(&accepted).await, org);
}

async fn scans_beyond_a_groups_queue_cap_are_refused(app: TestApp) {
    let app = TestApp::spawn_with(app.backend, |c| c.max_queued_scans = 3)
        .await
        .expect("app");
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let org_s = org.to_string();
    let red = app.new_group(&owner, org, "Red Team", "1", &[]).await;
    let blue = app.new_group(&owner, org, "Blue Team", "1", &[]).await;
    let start = |group: i64| {
        let (app, owner, org_s) = (&app, &owner, org_s.clone());
        async move {
            let group = group.to_string();
            app.call(
                owner,
                "scans/create",
                &[
                    ("org_id", org_s.as_str()),
                    ("group_id", group.as_str()),
                    ("target", "https://app.example.com"),
                ],
            )
            .await
        }
    };
    // Ten at once against a cap of three: exactly three are queued.
    let results = futures::future::join_all((0..10).map(|_| start(red))).await;
    let accepted = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        accepted, 3,
        "accepted {accepted} of 10 concurrent scans, cap 3"
    );
    for refused in results.into_iter().filter(|r| r.status != 200) {
        let refused = refused.expect_error(409, "conflict", Some("group_id"));
        assert!(
            refused.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("Red Team has 3 scans waiting")),
            "{}",
            refused.body
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM scans WHERE group_id = {red} AND status = 'queued'"
        ))
        .await,
        3
    );
    // Another group's queue is its own.
    start(blue).await.expect_status(200);
}

async fn a_dead_receiver_with_a_backlog_does_not_delay_another_organization(app: TestApp) {
    let dead = black_hole().await;
    let (owner_a, org_a) = app.new_org("a@example.com", "Org A").await;
    let group_a = hooked_group(&app, &owner_a, org_a, "Group", &dead).await;
    for n in 0..30 {
        touch_group(&app, &owner_a, org_a, group_a, n).await;
    }
    // Let the worker take org A's backlog and hang on it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = app
        .count("SELECT COUNT(*) FROM deliveries WHERE attempts > 0 AND status = 'pending'")
        .await;
    assert!(in_flight > 0, "org A's deliveries should be in flight");

    let mut receiver = start_receiver(&[]).await;
    let (owner_b, org_b) = app.new_org("b@example.com", "Org B").await;
    let group_b = hooked_group(&app, &owner_b, org_b, "Group", &receiver.url).await;
    let started = Instant::now();
    touch_group(&app, &owner_b, org_b, group_b, 0).await;
    let (headers, _body) = next_request(&mut receiver).await;
    let took = started.elapsed();
    assert_eq!(
        headers
            .get("x-gatehouse-event")
            .and_then(|v| v.to_str().ok()),
        Some("group.settings_changed")
    );
    assert!(
        took < Duration::from_secs(2),
        "org B's event took {took:?} behind org A's dead receiver (30 deliveries, 10 s timeout each)"
    );
    eprintln!(
        "figure: {:?}: org B's event delivered in {} ms while org A had 30 deliveries to a receiver that never answers",
        app.backend,
        took.as_millis()
    );
    let a_in_flight = app
        .count(&format!(
            "SELECT COUNT(*) FROM deliveries d JOIN groups g ON g.id = d.group_id
             WHERE g.org_id = {org_a} AND d.attempts > 0 AND d.status = 'pending'"
        ))
        .await;
    assert!(
        a_in_flight <= 2,
        "org A holds {a_in_flight} delivery slots; at most 2 per organization"
    );
}

async fn expired_rows_are_pruned_and_live_ones_kept(app: TestApp) {
    let mut receiver = start_receiver(&[]).await;
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let group = hooked_group(&app, &owner, org, "Group", &receiver.url).await;
    touch_group(&app, &owner, org, group, 0).await;
    next_request(&mut receiver).await;
    let idle = app.new_client();
    app.sign_in(&idle, "owner@example.com", common::PASSWORD)
        .await
        .expect_status(200);
    app.sign_in(&app.new_client(), "owner@example.com", "wrong password")
        .await
        .expect_status(401);
    // Let the delivery be recorded, then count what exists.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 2);
    assert!(app.count("SELECT COUNT(*) FROM rate_limits").await > 0);
    // Nothing is due yet.
    let pruned = app::maintenance::prune(&app.state).await.expect("prune");
    assert_eq!(pruned, app::maintenance::Pruned::default());

    // 32 days on. The Owner's first browser is used every few days (and reaches the 30-day
    // absolute limit), the second is left idle, a third signs in on day 28.
    let fresh = app.new_client();
    for day in (4..=32).step_by(4) {
        app.clock.advance(Duration::from_secs(4 * 24 * 3600));
        if day == 28 {
            app.sign_in(&fresh, "owner@example.com", common::PASSWORD)
                .await
                .expect_status(200);
        }
        if day < 30 {
            app.session(&owner).await;
        }
    }
    let pruned = app::maintenance::prune(&app.state).await.expect("prune");
    assert_eq!(pruned.deliveries, 1, "{pruned:?}");
    assert_eq!(
        pruned.sessions, 2,
        "the idle and the 30-day-old session: {pruned:?}"
    );
    assert!(pruned.rate_limits > 0, "{pruned:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM deliveries").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM rate_limits").await,
        0,
        "every window is more than a day old"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
    assert!(
        !app.session(&fresh).await.is_null(),
        "the live session is kept"
    );
}
