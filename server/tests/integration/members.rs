//! Members, roles and invitations: the SPEC's roles table, the Owner invariants under
//! concurrency, single-use invitations, seats, email delivery, and the audit log.

use crate::common;

use common::smtp::{decode_body, SmtpSink};
use common::{token_of, Backend, TestApp, PASSWORD};
use std::time::Duration;

on_both_databases!(
    every_role_is_allowed_exactly_what_the_roles_table_says,
    concurrent_demotions_and_removals_never_leave_an_org_without_owner,
    an_invitation_accepted_twice_at_once_admits_one_person,
    invitations_expire_can_be_revoked_and_resent,
    seats_limit_invitations,
    role_changes_follow_the_rules_and_removal_ends_access_at_once,
    a_refused_resend_leaves_the_invitation_working,
    an_existing_user_signs_in_and_accepts,
    members_are_searched_and_paged_in_the_database,
    admin_changes_are_in_the_audit_log,
);

/// (action, how to call it, allowed for [Owner, Admin, Team Leader, Billing Manager, User]).
const ROLES: [&str; 5] = ["owner", "admin", "team_leader", "billing_manager", "user"];

async fn attempt(
    app: &TestApp,
    client: &reqwest::Client,
    action: &str,
    org_id: i64,
    n: usize,
    (mine, theirs): (i64, i64),
) -> common::Resp {
    let org = org_id.to_string();
    let edit_group = |group: i64, name: &'static str| {
        let org = org.clone();
        async move {
            let group = group.to_string();
            app.call(
                client,
                "groups/update",
                &[
                    ("org_id", &org),
                    ("group_id", &group),
                    ("name", name),
                    ("scans_limit", "2"),
                ],
            )
            .await
        }
    };
    match action {
        "see groups" => app.call(client, "groups/list", &[("org_id", &org)]).await,
        "create groups" => {
            let name = format!("Group {n}");
            app.call(
                client,
                "groups/create",
                &[("org_id", &org), ("name", &name), ("scans_limit", "1")],
            )
            .await
        }
        "edit a group they belong to" => edit_group(mine, "Mine").await,
        "edit another group" => edit_group(theirs, "Theirs").await,
        "see members" => app.call(client, "members/list", &[("org_id", &org)]).await,
        "change org name" => {
            app.call(
                client,
                "org/rename",
                &[("org_id", &org), ("organization", "Renamed")],
            )
            .await
        }
        "invite members" => {
            app.invite(
                client,
                org_id,
                "New",
                &format!("new{n}@example.com"),
                "user",
            )
            .await
        }
        "grant the Owner role" => {
            app.invite(
                client,
                org_id,
                "New Owner",
                &format!("owner{n}@example.com"),
                "owner",
            )
            .await
        }
        "see billing" => app.call(client, "billing/get", &[("org_id", &org)]).await,
        "change billing" => {
            app.call(
                client,
                "billing/update",
                &[
                    ("org_id", &org),
                    ("plan", "team"),
                    ("seats", "500"),
                    ("billing_email", ""),
                ],
            )
            .await
        }
        "see the audit log" => app.call(client, "audit/list", &[("org_id", &org)]).await,
        other => panic!("unknown action {other}"),
    }
}

async fn every_role_is_allowed_exactly_what_the_roles_table_says(app: TestApp) {
    let (owner, org) = app.new_org("owner@a.example", "Org A").await;
    app.call(
        &owner,
        "billing/update",
        &[
            ("org_id", &org.to_string()),
            ("plan", "team"),
            ("seats", "500"),
            ("billing_email", ""),
        ],
    )
    .await
    .expect_status(200);
    let (_, other_org) = app.new_org("owner@b.example", "Org B").await;
    let mut clients = vec![owner.clone()];
    let mut ids = vec![app.user_id(&owner).await.to_string()];
    for role in &ROLES[1..] {
        let (client, id) = app
            .add_member(&owner, org, &format!("{role}@a.example"), role)
            .await;
        clients.push(client);
        ids.push(id.to_string());
    }
    // "Mine": everyone is in it; "Theirs": nobody.
    let mut groups = Vec::new();
    for (name, members) in [("Mine", ids.join(",")), ("Theirs", String::new())] {
        let created = app
            .call(
                &owner,
                "groups/create",
                &[
                    ("org_id", &org.to_string()),
                    ("name", name),
                    ("scans_limit", "1"),
                    ("member_ids", &members),
                ],
            )
            .await
            .expect_status(200);
        groups.push(
            created
                .json()
                .as_i64()
                .unwrap_or_else(|| panic!("group id: {}", created.body)),
        );
    }
    let groups = (groups[0], groups[1]);
    let table: [(&str, [bool; 5]); 11] = [
        ("see members", [true, true, true, false, true]),
        ("change org name", [true, false, false, false, false]),
        ("invite members", [true, true, false, false, false]),
        ("grant the Owner role", [true, false, false, false, false]),
        ("see billing", [true, true, false, true, false]),
        ("change billing", [true, true, false, true, false]),
        ("see the audit log", [true, true, false, false, false]),
        ("see groups", [true, true, true, false, true]),
        ("create groups", [true, true, false, false, false]),
        (
            "edit a group they belong to",
            [true, true, true, false, false],
        ),
        ("edit another group", [true, true, false, false, false]),
    ];
    let mut n = 0;
    for (action, allowed) in table {
        for (i, role) in ROLES.iter().enumerate() {
            n += 1;
            let own = attempt(&app, &clients[i], action, org, n, groups).await;
            let expected = if allowed[i] { 200 } else { 403 };
            assert_eq!(
                own.status,
                expected,
                "\n{role} may {}{action} in their org\nrequest: {}\nbody: {}\n",
                if allowed[i] { "" } else { "not " },
                own.request,
                own.body
            );
            n += 1;
            let other = attempt(&app, &clients[i], action, other_org, n, groups).await;
            assert_eq!(
                other.status, 404,
                "\n{role}: {action} in another org must be 404\nrequest: {}\nbody: {}\n",
                other.request, other.body
            );
        }
    }
    // Signed out: 401 everywhere.
    let stranger = app.new_client();
    let resp = attempt(&app, &stranger, "see members", org, 0, groups).await;
    resp.expect_error(401, "unauthenticated", None);
}

async fn concurrent_demotions_and_removals_never_leave_an_org_without_owner(app: TestApp) {
    for round in 0..4 {
        let (a, org) = app.new_org(&format!("a{round}@example.com"), "Race").await;
        let (b, b_id) = app
            .add_member(&a, org, &format!("b{round}@example.com"), "owner")
            .await;
        let a_id = app.user_id(&a).await;
        let org_s = org.to_string();
        let (a_s, b_s) = (a_id.to_string(), b_id.to_string());
        let calls = (0..3).flat_map(|_| {
            [
                (
                    a.clone(),
                    "members/role",
                    vec![
                        ("org_id", org_s.clone()),
                        ("user_id", b_s.clone()),
                        ("role", "admin".to_string()),
                    ],
                ),
                (
                    b.clone(),
                    "members/role",
                    vec![
                        ("org_id", org_s.clone()),
                        ("user_id", a_s.clone()),
                        ("role", "user".to_string()),
                    ],
                ),
                (
                    a.clone(),
                    "members/remove",
                    vec![("org_id", org_s.clone()), ("user_id", b_s.clone())],
                ),
                (
                    b.clone(),
                    "members/remove",
                    vec![("org_id", org_s.clone()), ("user_id", a_s.clone())],
                ),
                (a.clone(), "members/leave", vec![("org_id", org_s.clone())]),
                (b.clone(), "members/leave", vec![("org_id", org_s.clone())]),
            ]
        });
        let results = futures::future::join_all(calls.map(|(client, function, form)| {
            let app = &app;
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                app.call(&client, function, &form).await
            }
        }))
        .await;
        for r in &results {
            assert!(
                r.status < 500,
                "no request may fail with a server error: {} -> {} {}",
                r.request,
                r.status,
                r.body
            );
        }
        assert!(
            results.iter().any(|r| r.status == 200),
            "some change succeeded"
        );
        let owners = app
            .count(&format!(
                "SELECT COUNT(*) FROM memberships WHERE org_id = {org} AND role = 'owner'"
            ))
            .await;
        assert!(
            owners >= 1,
            "round {round}: the organization was left with {owners} owners"
        );
    }
}

async fn an_invitation_accepted_twice_at_once_admits_one_person(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let invited = app
        .invite(&owner, org, "Twin", "twin@example.com", "user")
        .await
        .expect_status(200);
    let token = token_of(&invited.json()["link"]);
    let (c1, c2) = (app.new_client(), app.new_client());
    let form1 = [
        ("token", token.as_str()),
        ("name", "First"),
        ("password", PASSWORD),
    ];
    let form2 = [
        ("token", token.as_str()),
        ("name", "Second"),
        ("password", PASSWORD),
    ];
    let (r1, r2) = tokio::join!(
        app.call(&c1, "invitations/accept_new", &form1),
        app.call(&c2, "invitations/accept_new", &form2),
    );
    let mut statuses = [r1.status, r2.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 409],
        "exactly one acceptance wins:\n{} -> {} {}\n{} -> {} {}",
        r1.request,
        r1.status,
        r1.body,
        r2.request,
        r2.status,
        r2.body
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email_normalized = 'twin@example.com'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {org}"
        ))
        .await,
        2
    );
}

async fn invitations_expire_can_be_revoked_and_resent(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let org_s = org.to_string();
    let invited = app
        .invite(&owner, org, "Late", "late@example.com", "user")
        .await
        .expect_status(200);
    let token = token_of(&invited.json()["link"]);
    let view = app
        .call(&app.new_client(), "invitations/view", &[("token", &token)])
        .await
        .expect_status(200)
        .json();
    assert_eq!(view["state"], "pending", "{view}");
    assert_eq!(view["org_name"], "Org", "{view}");
    // The stored token is a hash, never the token.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM invitations WHERE token_hash = '{token}'"
        ))
        .await,
        0
    );

    // (The owner keeps their session alive meanwhile: sessions end after 7 idle days.)
    app.clock.advance(Duration::from_secs(6 * 24 * 3600));
    app.session(&owner).await;
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let view = app
        .call(&app.new_client(), "invitations/view", &[("token", &token)])
        .await
        .expect_status(200)
        .json();
    assert_eq!(view["state"], "expired", "{view}");
    let form = [
        ("token", token.as_str()),
        ("name", "Late"),
        ("password", PASSWORD),
    ];
    app.call(&app.new_client(), "invitations/accept_new", &form)
        .await
        .expect_error(409, "conflict", Some("token"));

    // Resend: a new link, the old one dead, valid again for 7 days.
    let pending = app
        .call(&owner, "invitations/pending", &[("org_id", &org_s)])
        .await
        .expect_status(200)
        .json();
    let id = pending[0]["id"]
        .as_i64()
        .expect("pending invitation id")
        .to_string();
    let resent = app
        .call(
            &owner,
            "invitations/resend",
            &[("org_id", &org_s), ("id", &id)],
        )
        .await
        .expect_status(200);
    let new_token = token_of(&resent.json()["link"]);
    assert_ne!(new_token, token);
    app.call(&app.new_client(), "invitations/view", &[("token", &token)])
        .await
        .expect_error(404, "not_found", None);

    // Revoke: the link explains itself and cannot be used.
    app.call(
        &owner,
        "invitations/revoke",
        &[("org_id", &org_s), ("id", &id)],
    )
    .await
    .expect_status(200);
    let view = app
        .call(
            &app.new_client(),
            "invitations/view",
            &[("token", &new_token)],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(view["state"], "revoked", "{view}");
    let form = [
        ("token", new_token.as_str()),
        ("name", "Late"),
        ("password", PASSWORD),
    ];
    app.call(&app.new_client(), "invitations/accept_new", &form)
        .await
        .expect_error(409, "conflict", Some("token"));
    app.call(
        &owner,
        "invitations/revoke",
        &[("org_id", &org_s), ("id", &id)],
    )
    .await
    .expect_error(404, "not_found", None);
    // Junk tokens never reach the database and answer 404.
    app.call(&app.new_client(), "invitations/view", &[("token", "nope")])
        .await
        .expect_error(404, "not_found", None);
}

async fn seats_limit_invitations(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let org_s = org.to_string();
    let update = |seats: &'static str| {
        let org_s = org_s.clone();
        let owner = owner.clone();
        let app = &app;
        async move {
            app.call(
                &owner,
                "billing/update",
                &[
                    ("org_id", &org_s),
                    ("plan", "team"),
                    ("seats", seats),
                    ("billing_email", "billing@example.com"),
                ],
            )
            .await
        }
    };
    update("2").await.expect_status(200);
    app.invite(&owner, org, "One", "one@example.com", "user")
        .await
        .expect_status(200);
    let full = app
        .invite(&owner, org, "Two", "two@example.com", "user")
        .await
        .expect_error(409, "conflict", Some("email"));
    assert!(
        full.body.contains("seats"),
        "the message explains seats: {}",
        full.body
    );
    // Seats below what is in use are refused; bad values too.
    update("1")
        .await
        .expect_error(409, "conflict", Some("seats"));
    update("0")
        .await
        .expect_error(422, "invalid_input", Some("seats"));
    update("lots")
        .await
        .expect_error(422, "invalid_input", Some("seats"));
    let billing = app
        .call(&owner, "billing/get", &[("org_id", &org_s)])
        .await
        .expect_status(200)
        .json();
    assert_eq!(billing["seats"], 2, "{billing}");
    assert_eq!(billing["plan"], "team", "{billing}");
    assert_eq!(billing["pending_invitations"], 1, "{billing}");
    update("3").await.expect_status(200);
    app.invite(&owner, org, "Two", "two@example.com", "user")
        .await
        .expect_status(200);
    // The same address twice, or a member's address: clear conflicts.
    app.invite(&owner, org, "Two", "TWO@example.com", "user")
        .await
        .expect_error(409, "conflict", Some("email"));
    app.invite(&owner, org, "Me", "owner@example.com", "user")
        .await
        .expect_error(409, "conflict", Some("email"));
    app.invite(&owner, org, "Bad", "not-an-email", "user")
        .await
        .expect_error(422, "invalid_input", Some("email"));
    app.invite(&owner, org, "Bad", "bad@example.com", "root")
        .await
        .expect_error(422, "invalid_input", Some("role"));
}

async fn role_changes_follow_the_rules_and_removal_ends_access_at_once(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let org_s = org.to_string();
    let owner_id = app.user_id(&owner).await.to_string();
    let (admin, admin_id) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let (user, user_id) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    let (admin_id, user_id) = (admin_id.to_string(), user_id.to_string());
    let role = |client: &reqwest::Client, who: &str, to: &str| {
        let (client, who, to, org_s) = (
            client.clone(),
            who.to_string(),
            to.to_string(),
            org_s.clone(),
        );
        let app = &app;
        async move {
            app.call(
                &client,
                "members/role",
                &[("org_id", &org_s), ("user_id", &who), ("role", &to)],
            )
            .await
        }
    };
    role(&admin, &user_id, "team_leader")
        .await
        .expect_status(200);
    role(&admin, &user_id, "owner")
        .await
        .expect_error(403, "forbidden", None);
    role(&admin, &owner_id, "user")
        .await
        .expect_error(403, "forbidden", None);
    // Your own role: a conflict with who is asking (the field still names it).
    role(&admin, &admin_id, "owner")
        .await
        .expect_error(409, "conflict", Some("role"));
    role(&user, &user_id, "admin")
        .await
        .expect_error(403, "forbidden", None);
    role(&owner, &user_id, "superuser")
        .await
        .expect_error(422, "invalid_input", Some("role"));
    role(&owner, "999999", "user")
        .await
        .expect_error(404, "not_found", None);
    app.call(
        &admin,
        "members/remove",
        &[("org_id", &org_s), ("user_id", &owner_id)],
    )
    .await
    .expect_error(403, "forbidden", None);
    // The last Owner can neither leave nor be demoted.
    app.call(&owner, "members/leave", &[("org_id", &org_s)])
        .await
        .expect_error(409, "conflict", Some("role"));

    // Removed: the very next request of the removed member's session is refused.
    app.call(&user, "members/list", &[("org_id", &org_s)])
        .await
        .expect_status(200);
    app.call(
        &admin,
        "members/remove",
        &[("org_id", &org_s), ("user_id", &user_id)],
    )
    .await
    .expect_status(200);
    app.call(&user, "members/list", &[("org_id", &org_s)])
        .await
        .expect_error(404, "not_found", None);
    let session = app.session(&user).await;
    assert!(
        session["current_org"].is_null(),
        "no organization left: {session}"
    );
}

async fn an_existing_user_signs_in_and_accepts(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org A").await;
    let (grace, _) = app.new_org("grace@example.com", "Org B").await;
    let invited = app
        .invite(&owner, org, "Grace", "Grace@Example.com", "team_leader")
        .await
        .expect_status(200);
    let token = token_of(&invited.json()["link"]);
    let view = app
        .call(&grace, "invitations/view", &[("token", &token)])
        .await
        .expect_status(200)
        .json();
    assert_eq!(view["account_exists"], true, "{view}");
    // Someone else signed in cannot take it.
    let (mallory, _) = app.new_org("mallory@example.com", "Org M").await;
    app.call(&mallory, "invitations/accept", &[("token", &token)])
        .await
        .expect_error(409, "conflict", Some("token"));
    app.call(&grace, "invitations/accept", &[("token", &token)])
        .await
        .expect_status(200);
    let session = app.session(&grace).await;
    assert_eq!(
        session["orgs"].as_array().map(Vec::len),
        Some(2),
        "{session}"
    );
    assert_eq!(session["current_org"]["name"], "Org A", "{session}");
    assert_eq!(session["current_org"]["role"], "team_leader", "{session}");
    // Switching organizations.
    let b = session["orgs"]
        .as_array()
        .and_then(|o| o.iter().find(|x| x["name"] == "Org B"))
        .expect("org B")["id"]
        .to_string();
    app.call(&grace, "switch_org", &[("org_id", &b)])
        .await
        .expect_status(200);
    assert_eq!(app.session(&grace).await["current_org"]["name"], "Org B");
    let foreign = app.org_id(&owner).await.to_string();
    app.call(&mallory, "switch_org", &[("org_id", &foreign)])
        .await
        .expect_error(404, "not_found", None);
}

async fn members_are_searched_and_paged_in_the_database(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Big").await;
    let org_s = org.to_string();
    app.add_member(&owner, org, "member@example.com", "user")
        .await;
    for i in 0..119 {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (email, email_normalized, name, password_hash, created_at) VALUES ($1, $1, $2, 'x', 0) RETURNING id",
        )
        .bind(format!("user-{i:03}@example.com"))
        .bind(format!("User {i:03}"))
        .fetch_one(&app.state.db.pool)
        .await
        .expect("insert user");
        sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at, member_name) VALUES ($1, $2, 'user', 0, $3)")
            .bind(org)
            .bind(id)
            .bind(format!("User {i:03}"))
            .execute(&app.state.db.pool)
            .await
            .expect("insert membership");
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    for _ in 0..4 {
        let page = app
            .call(
                &owner,
                "members/list",
                &[("org_id", &org_s), ("after", &after)],
            )
            .await
            .expect_status(200)
            .json();
        for m in page["members"].as_array().expect("members") {
            seen.push(m["email"].as_str().unwrap_or_default().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => after = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 121, "every member exactly once across pages");
    assert_eq!(
        &seen[..3],
        [
            "member@example.com",
            "owner@example.com",
            "user-000@example.com"
        ],
        "ordered by name"
    );
    assert_eq!(seen[120], "user-118@example.com");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 121);
    let found = app
        .call(
            &owner,
            "members/list",
            &[("org_id", &org_s), ("q", "USER-04")],
        )
        .await
        .expect_status(200)
        .json();
    let emails: Vec<_> = found["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["email"].clone())
        .collect();
    assert_eq!(emails.len(), 10, "user-040 .. user-049: {emails:?}");
    let none = app
        .call(&owner, "members/list", &[("org_id", &org_s), ("q", "%")])
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        none["members"].as_array().map(Vec::len),
        Some(0),
        "% is matched literally: {none}"
    );
    app.call(
        &owner,
        "members/list",
        &[("org_id", &org_s), ("after", "garbage")],
    )
    .await
    .expect_error(422, "invalid_input", Some("after"));
}

async fn admin_changes_are_in_the_audit_log(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let org_s = org.to_string();
    let (_, user_id) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    let user_s = user_id.to_string();
    app.call(
        &owner,
        "members/role",
        &[("org_id", &org_s), ("user_id", &user_s), ("role", "admin")],
    )
    .await
    .expect_status(200);
    app.call(
        &owner,
        "org/rename",
        &[("org_id", &org_s), ("organization", "Org 2")],
    )
    .await
    .expect_status(200);
    app.call(
        &owner,
        "members/remove",
        &[("org_id", &org_s), ("user_id", &user_s)],
    )
    .await
    .expect_status(200);
    let log = app
        .call(&owner, "audit/list", &[("org_id", &org_s)])
        .await
        .expect_status(200)
        .json();
    let actions: Vec<&str> = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "user.sign_up",
        "invitation.created",
        "invitation.accepted",
        "member.role_changed",
        "org.renamed",
        "member.removed",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let members_only = app
        .call(
            &owner,
            "audit/list",
            &[("org_id", &org_s), ("filter[action]", "member.")],
        )
        .await
        .expect_status(200)
        .json();
    let actions: Vec<&str> = members_only["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["member.removed", "member.role_changed"],
        "{members_only}"
    );
    let by_actor = app
        .call(
            &owner,
            "audit/list",
            &[("org_id", &org_s), ("filter[actor]", "USER@example.com")],
        )
        .await
        .expect_status(200)
        .json();
    let actions: Vec<&str> = by_actor["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["invitation.accepted"], "{by_actor}");
    app.call(
        &owner,
        "audit/list",
        &[("org_id", &org_s), ("filter[from]", "yesterday")],
    )
    .await
    .expect_error(422, "invalid_input", Some("from"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_emailed_over_smtp_with_a_working_link() {
    let mut sink = SmtpSink::start().await;
    let port = sink.port;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    })
    .await
    .expect("app");
    let (owner, org) = app.new_org("owner@example.com", "Mail Org").await;
    let resp = app
        .invite(&owner, org, "Ada", "ada@example.com", "admin")
        .await
        .expect_status(200)
        .json();
    assert_eq!(resp["emailed"], true, "{resp}");
    assert!(
        resp["link"].is_null(),
        "the link is emailed, not shown: {resp}"
    );
    let mail = tokio::time::timeout(Duration::from_secs(10), sink.messages.recv())
        .await
        .ok()
        .flatten()
        .expect("an email arrived");
    let body = decode_body(&mail);
    assert!(
        body.contains("To: \"Ada\" <ada@example.com>")
            || body.contains("To: Ada <ada@example.com>"),
        "{body}"
    );
    assert!(
        body.contains("Subject: Join Mail Org on Gatehouse"),
        "{body}"
    );
    let link_start = body
        .find("http://")
        .unwrap_or_else(|| panic!("no link in {body}"));
    let link: String = body[link_start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let token = link.rsplit('/').next().unwrap_or_default().to_string();
    let client = app.new_client();
    app.call(
        &client,
        "invitations/accept_new",
        &[("token", &token), ("name", "Ada"), ("password", PASSWORD)],
    )
    .await
    .expect_status(200);
    assert_eq!(app.session(&client).await["current_org"]["role"], "admin");
}

async fn a_refused_resend_leaves_the_invitation_working(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let org_s = org.to_string();
    let (admin, _) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let invited = app
        .invite(&owner, org, "Co-owner", "co@example.com", "owner")
        .await
        .expect_status(200);
    let token = token_of(&invited.json()["link"]);
    let pending = app
        .call(&admin, "invitations/pending", &[("org_id", &org_s)])
        .await
        .expect_status(200)
        .json();
    let id = pending[0]["id"]
        .as_i64()
        .expect("pending invitation id")
        .to_string();
    // An Admin cannot grant the Owner role, so cannot resend an Owner invitation either...
    app.call(
        &admin,
        "invitations/resend",
        &[("org_id", &org_s), ("id", &id)],
    )
    .await
    .expect_error(403, "forbidden", None);
    // ...and the refusal changed nothing: the link still works.
    let form = [
        ("token", token.as_str()),
        ("name", "Co-owner"),
        ("password", PASSWORD),
    ];
    let co_owner = app.new_client();
    app.call(&co_owner, "invitations/accept_new", &form)
        .await
        .expect_status(200);
    assert_eq!(app.session(&co_owner).await["current_org"]["role"], "owner");
}
