//! `gatehouse admin`, run as the real binary against the database a running server is serving:
//! each command changes what it says (and the server sees it on the next request), is audited
//! as done by the operator, and refuses bad input with exit code 2 and nothing changed.

use crate::common;

use common::two_factor::enable;
use common::{Backend, TestApp, PASSWORD};
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_gatehouse");

/// Runs `gatehouse admin ARGS` on `app`'s database, as an operator with shell access would.
async fn admin(app: &TestApp, args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .arg("admin")
        .args(args)
        .env("RUST_LOG", "warn")
        .env("USER", "opal")
        .env_remove("SUDO_USER");
    match &app.config().database_url {
        Some(url) => command.args(["--database-url", url]),
        None => command.arg("--data-dir").arg(&app.config().data_dir),
    };
    tokio::task::spawn_blocking(move || command.output().expect("gatehouse admin runs"))
        .await
        .expect("admin command")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts success and returns stdout; on failure prints the command's whole output.
#[track_caller]
fn ok(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "gatehouse admin {args:?}: {}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

async fn run_ok(app: &TestApp, args: &[&str]) -> String {
    ok(args, admin(app, args).await)
}

/// Operator events of the organization: (action, target, details).
async fn operator_events(app: &TestApp, org: i64) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT action, target, details FROM audit_events
         WHERE org_id = $1 AND actor_user_id IS NULL AND details LIKE '%operator%' ORDER BY id",
    )
    .bind(org)
    .fetch_all(&app.state.db.pool)
    .await
    .expect("audit events")
}

async fn reset_two_factor_lets_a_locked_out_owner_enroll_again(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    enable(&app, &owner).await;
    let shown = run_ok(&app, &["users", "show", "--email", "owner@example.com"]).await;
    assert!(
        shown.contains("two-factor       on (10 recovery codes left)")
            && shown.contains("Acme")
            && shown.contains("owner"),
        "users show: {shown}"
    );
    // With 2FA, the password alone opens no session.
    let phone_lost = app.new_client();
    let resp = app
        .sign_in(&phone_lost, "owner@example.com", PASSWORD)
        .await
        .expect_status(200);
    assert!(resp.session_cookie().is_none(), "{}", resp.body);

    let out = run_ok(&app, &["reset-two-factor", "--email", "Owner@Example.com"]).await;
    assert!(
        out.contains("Removed the two-factor authentication of Owner <owner@example.com>")
            && out.contains("10 recovery codes")
            && out.contains("Ended 1 sessions"),
        "reset-two-factor: {out}"
    );
    // The old session ended at once, on the running server.
    assert!(app.session(&owner).await.is_null());
    let resp = app
        .sign_in(&phone_lost, "owner@example.com", PASSWORD)
        .await
        .expect_status(200);
    assert!(resp.session_cookie().is_some(), "{}", resp.body);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'owner@example.com'
             AND totp_secret IS NULL AND totp_enabled_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    // And they can enroll again.
    enable(&app, &phone_lost).await;

    let events = operator_events(&app, org).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (action, target, details) = &events[0];
    assert_eq!(action, "user.two_factor_reset");
    assert!(target.starts_with("user:"), "{target}");
    assert!(details.contains("\"operator\":\"opal@"), "{details}");
}

async fn disable_user_stops_sessions_and_keys_at_once(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let (member, _) = app
        .add_member(&owner, org, "mel@example.com", "admin")
        .await;
    let key = app.create_key(&member, org, "members:read", "30").await;
    let postgres = app.backend == Backend::Postgres;
    if postgres {
        app.cache_live(true).await;
    }
    app.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200);

    let out = run_ok(&app, &["disable-user", "--email", "mel@example.com"]).await;
    assert!(
        out.contains("Disabled Member <mel@example.com>: ended 1 sessions"),
        "disable-user: {out}"
    );
    // On PostgreSQL the server had the key in memory: the command ends only once the server
    // has forgotten it, so the very next request is refused (SQLite keeps nothing).
    assert_eq!(
        out.contains("Running servers that applied the change: 1 of 1"),
        postgres,
        "disable-user: {out}"
    );
    app.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_error(403, "account_disabled", None);
    assert!(app.session(&member).await.is_null());
    let again = app.new_client();
    app.sign_in(&again, "mel@example.com", PASSWORD)
        .await
        .expect_error(403, "account_disabled", None);
    // Without the password, a disabled account looks like any failed sign-in.
    app.sign_in(&again, "mel@example.com", "not the password")
        .await
        .expect_error(401, "invalid_credentials", None);
    let listed = run_ok(&app, &["users", "list"]).await;
    let line = listed
        .lines()
        .find(|l| l.contains("mel@example.com"))
        .unwrap_or_default();
    assert!(line.contains("disabled"), "users list: {listed}");
    // Twice is harmless and says so.
    let out = run_ok(&app, &["disable-user", "--email", "mel@example.com"]).await;
    assert!(out.contains("already disabled"), "{out}");

    let out = run_ok(&app, &["enable-user", "--email", "mel@example.com"]).await;
    assert!(out.contains("Enabled Member <mel@example.com>"), "{out}");
    app.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200);
    let resp = app
        .sign_in(&again, "mel@example.com", PASSWORD)
        .await
        .expect_status(200);
    assert!(resp.session_cookie().is_some());

    let actions: Vec<String> = operator_events(&app, org)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(actions, ["user.disabled", "user.enabled"]);
}

async fn grant_owner_promotes_a_member_or_adds_an_owner(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let (bob, _) = app.add_member(&owner, org, "bob@example.com", "user").await;
    let (_, other_org) = app.new_org("carol@example.com", "Other").await;

    let out = run_ok(
        &app,
        &["grant-owner", "--email", "bob@example.com", "--org", "Acme"],
    )
    .await;
    assert!(
        out.contains(&format!(
            "is now an Owner of Acme (id {org}); their role was user"
        )),
        "{out}"
    );
    // The running server sees the new role on the next request.
    let session = app.session(&bob).await;
    assert_eq!(session["current_org"]["role"], "owner", "{session}");

    let other = other_org.to_string();
    let out = run_ok(
        &app,
        &["grant-owner", "--email", "bob@example.com", "--org", &other],
    )
    .await;
    assert!(out.contains("joined Other"), "{out}");
    let orgs = run_ok(&app, &["orgs", "list"]).await;
    let line = orgs
        .lines()
        .find(|l| l.contains("Other"))
        .unwrap_or_default();
    assert!(
        line.contains("bob@example.com, carol@example.com") && line.contains(" 2 "),
        "orgs list: {orgs}"
    );
    let out = run_ok(
        &app,
        &["grant-owner", "--email", "bob@example.com", "--org", &other],
    )
    .await;
    assert!(out.contains("already an Owner"), "{out}");

    // Bob, now an Owner, sees who did it in the audit log.
    let log = app
        .call(&bob, "audit/list", &[("org_id", &org.to_string())])
        .await
        .expect_status(200)
        .json();
    let granted = log["events"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|e| e["action"] == "member.owner_granted")
        })
        .unwrap_or_else(|| panic!("no member.owner_granted in {log}"));
    assert!(
        granted["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("Operator opal@")),
        "{granted}"
    );

    let events = operator_events(&app, org).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "member.owner_granted");
    assert!(events[0].2.contains("\"from\":\"user\""), "{:?}", events[0]);
    let events = operator_events(&app, other_org).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].2.contains("\"from\":null"), "{:?}", events[0]);
}

async fn bad_input_exits_2_and_changes_nothing(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    app.new_org("twin@example.com", "Acme").await;
    enable(&app, &owner).await;
    let audit_before = app.count("SELECT COUNT(*) FROM audit_events").await;
    let cases: [(&[&str], &str); 6] = [
        (
            &["reset-two-factor", "--email", "nobody@example.com"],
            "No account has the email nobody@example.com",
        ),
        (
            &["disable-user", "--email", "not an email"],
            "is not an email address",
        ),
        (
            &[
                "grant-owner",
                "--email",
                "nobody@example.com",
                "--org",
                &org.to_string(),
            ],
            "No account has the email nobody@example.com",
        ),
        (
            &[
                "grant-owner",
                "--email",
                "owner@example.com",
                "--org",
                "Nope",
            ],
            "No organization has the id or name \"Nope\"",
        ),
        (
            &[
                "grant-owner",
                "--email",
                "owner@example.com",
                "--org",
                "Acme",
            ],
            "2 organizations are named \"Acme\"",
        ),
        (
            &["users", "show", "--email", "nobody@example.com"],
            "No account has the email",
        ),
    ];
    for (args, message) in cases {
        let output = admin(&app, args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "gatehouse admin {args:?}: {}\nstdout: {}\nstderr: {stderr}",
            output.status,
            stdout(&output)
        );
        assert!(stderr.contains(message), "{args:?}: stderr {stderr}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events").await,
        audit_before
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE totp_enabled_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM memberships WHERE role = 'owner'")
            .await,
        2
    );
}

on_both_databases!(
    reset_two_factor_lets_a_locked_out_owner_enroll_again,
    disable_user_stops_sessions_and_keys_at_once,
    grant_owner_promotes_a_member_or_adds_an_owner,
    bad_input_exits_2_and_changes_nothing,
);

#[tokio::test]
async fn a_data_dir_without_a_database_is_refused_with_exit_2() {
    let empty = std::env::temp_dir().join(format!("gatehouse-admin-empty-{}", std::process::id()));
    let output = tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(["admin", "users", "list", "--data-dir"])
            .arg(&empty)
            .env_remove("DATABASE_URL")
            .output()
            .expect("gatehouse admin runs")
    })
    .await
    .expect("admin command");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("there is no database at"), "{stderr}");
}

/// `gatehouse --version` names the workspace's version, and CHANGELOG.md says what it brought
/// and what an upgrade to it needs.
#[test]
fn the_version_is_printed_and_in_the_changelog() {
    let version = env!("CARGO_PKG_VERSION");
    let output = Command::new(BINARY)
        .arg("--version")
        .output()
        .expect("run gatehouse --version");
    assert!(
        output.status.success(),
        "gatehouse --version: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout(&output).trim(), format!("gatehouse {version}"));
    let changelog =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../CHANGELOG.md"))
            .expect("read CHANGELOG.md");
    assert!(
        changelog.contains(&format!("\n## [{version}] - ")),
        "CHANGELOG.md has no section \"## [{version}] - <date>\""
    );
}
