//! Nothing lost when things fail: a change and its audit event commit together, an invitation
//! whose email fails keeps its link, and one actor cannot grow a queue without bound.

mod common;

use common::{Backend, TestApp};

on_both_databases!(
    a_change_that_cannot_be_audited_does_not_happen,
    scans_beyond_a_groups_queue_cap_are_refused,
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
