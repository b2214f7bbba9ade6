//! The audit log proves it was not altered: each organization's events form a hash chain,
//! and `gatehouse admin audit verify` (and the offline script for an export) names the first
//! event changed, removed or reordered with plain SQL, a rewrite behind a signed checkpoint,
//! and a cut tail. Two replicas writing at once still make one chain.

use crate::common;

use app::audit::{chain, checkpoint};
use common::{Backend, TestApp};
use serde_json::json;
use std::process::{Command, Output};

on_both_databases!(
    changes_removals_reorders_and_cut_tails_are_named,
    a_rewrite_behind_a_checkpoint_is_named,
    events_of_an_older_version_join_the_chain,
    an_export_verifies_offline,
);

const BINARY: &str = env!("CARGO_BIN_EXE_gatehouse");

/// An organization with `groups` groups made through the API: an event each, after the
/// organization's own and its key's.
async fn org_with_events(app: &TestApp, name: &str, groups: usize) -> (i64, String) {
    let (owner, org) = app
        .new_org(&format!("owner@{}.example", name.to_lowercase()), name)
        .await;
    let key = app
        .create_key(&owner, org, "groups:write audit:read", "30")
        .await;
    for n in 0..groups {
        app.api(
            "POST",
            "/api/v1/groups",
            Some(&key),
            Some(json!({"name": format!("g{n}"), "scans_limit": 1})),
        )
        .await
        .expect_status(201);
    }
    (org, key)
}

async fn report(app: &TestApp, org: i64) -> chain::ChainReport {
    chain::verify(&app.state.db.pool, &app.state.secret_key, Some(org))
        .await
        .expect("verify")
}

async fn sql(app: &TestApp, statement: &str) {
    sqlx::query(statement)
        .execute(&app.state.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// The id of the event at `seq` in `org`'s chain.
async fn at(app: &TestApp, org: i64, seq: i64) -> i64 {
    app.count(&format!(
        "SELECT id FROM audit_events WHERE org_id = {org} AND seq = {seq}"
    ))
    .await
}

/// `gatehouse admin audit verify ARGS` on `app`'s database and key.
async fn admin_verify(app: &TestApp, args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(["admin", "audit", "verify"])
        .args(args)
        .env("RUST_LOG", "warn")
        .arg("--data-dir")
        .arg(&app.config().data_dir);
    if let Some(url) = &app.config().database_url {
        command.args(["--database-url", url]);
    }
    tokio::task::spawn_blocking(move || command.output().expect("gatehouse admin runs"))
        .await
        .expect("admin command")
}

fn shown(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn changes_removals_reorders_and_cut_tails_are_named(app: TestApp) {
    let mut orgs = Vec::new();
    for name in ["Intact", "Changed", "Removed", "Reordered", "Cut"] {
        orgs.push(org_with_events(&app, name, 5).await.0);
    }
    let [intact, changed, removed, reordered, cut] = orgs[..] else {
        unreachable!()
    };
    let events = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE org_id = {intact}"
        ))
        .await;
    assert!(events >= 6, "events of an organization: {events}");
    for org in &orgs {
        let r = report(&app, *org).await;
        assert_eq!(r.broken, None, "before any SQL: {r:?}");
        assert_eq!(r.events, events, "{r:?}");
    }
    let output = admin_verify(&app, &[]).await;
    assert!(output.status.success(), "{}", shown(&output));

    // Changed: one event's target.
    let victim = at(&app, changed, 3).await;
    sql(
        &app,
        &format!("UPDATE audit_events SET target = 'someone else' WHERE id = {victim}"),
    )
    .await;
    let r = report(&app, changed).await;
    let why = r.broken.clone().unwrap_or_default();
    assert!(
        why.contains(&format!("event {victim} (seq 3")) && why.contains("changed"),
        "{r:?}"
    );
    assert_eq!(r.events, 2, "{r:?}");

    // Removed: one event in the middle.
    let victim = at(&app, removed, 4).await;
    sql(
        &app,
        &format!("DELETE FROM audit_events WHERE id = {victim}"),
    )
    .await;
    let next = at(&app, removed, 5).await;
    let r = report(&app, removed).await;
    assert_eq!(
        r.broken.as_deref(),
        Some(
            format!("events were removed before event {next} (seq 5): seq 4 to 4 are missing")
                .as_str()
        ),
        "{r:?}"
    );

    // Reordered: two events swap places.
    let (second, third) = (at(&app, reordered, 2).await, at(&app, reordered, 3).await);
    sql(
        &app,
        &format!("UPDATE audit_events SET seq = -1 WHERE id = {second}"),
    )
    .await;
    sql(
        &app,
        &format!("UPDATE audit_events SET seq = 2 WHERE id = {third}"),
    )
    .await;
    sql(
        &app,
        &format!("UPDATE audit_events SET seq = 3 WHERE id = {second}"),
    )
    .await;
    let r = report(&app, reordered).await;
    let why = r.broken.clone().unwrap_or_default();
    assert!(why.contains(&format!("event {third} (seq 2")), "{r:?}");

    // Cut: the newest two events, as someone hiding their last steps would.
    let last = app
        .count(&format!(
            "SELECT MAX(seq) FROM audit_events WHERE org_id = {cut}"
        ))
        .await;
    sql(
        &app,
        &format!(
            "DELETE FROM audit_events WHERE org_id = {cut} AND seq > {}",
            last - 2
        ),
    )
    .await;
    let r = report(&app, cut).await;
    assert_eq!(
        r.broken.as_deref(),
        Some(
            format!(
                "the last 2 events were removed: the chain's head is at seq {last}, the log ends at seq {}",
                last - 2
            )
            .as_str()
        ),
        "{r:?}"
    );

    // The command line says the same, with exit code 1, and leaves the intact one intact.
    let output = admin_verify(&app, &[]).await;
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("organization {intact}: intact, {events} events")),
        "{text}"
    );
    for org in [changed, removed, reordered, cut] {
        assert!(
            text.contains(&format!("organization {org}: BROKEN")),
            "{org}: {text}"
        );
    }
    assert!(text.contains("4 audit chain(s) broken"), "{text}");
    let output = admin_verify(&app, &["--org", &intact.to_string()]).await;
    assert!(output.status.success(), "{}", shown(&output));
}

async fn a_rewrite_behind_a_checkpoint_is_named(app: TestApp) {
    let (org, _key) = org_with_events(&app, "Checked", 3).await;
    // The checkpoint is due an hour after the chain began; make it due now.
    sql(&app, "UPDATE audit_chains SET checkpoint_at = 0").await;
    let written = checkpoint::checkpoint(&app.state)
        .await
        .expect("checkpoint");
    assert!(written >= 1, "checkpoints written: {written}");
    assert_eq!(
        checkpoint::checkpoint(&app.state)
            .await
            .expect("checkpoint"),
        0,
        "a chain that did not grow gets no second checkpoint"
    );
    let r = report(&app, org).await;
    assert_eq!((r.broken.clone(), r.checkpoints), (None, 1), "{r:?}");

    // Someone with the database but not the server key changes the second event and makes
    // every hash after it again, the head too: the chain holds, the checkpoint does not.
    sql(
        &app,
        &format!("UPDATE audit_events SET target = 'nobody' WHERE org_id = {org} AND seq = 2"),
    )
    .await;
    let rows: Vec<chain::Chained> = sqlx::query_as(&format!(
        "SELECT id, org_id, actor_user_id, action, target, ip, details, created_at, seq, hash
         FROM audit_events WHERE org_id = {org} ORDER BY seq"
    ))
    .fetch_all(&app.state.db.pool)
    .await
    .expect("events");
    let mut previous = chain::GENESIS.to_string();
    for row in &rows {
        let seq = row.seq.expect("chained");
        previous = chain::link(&previous, &row.canonical(seq));
        sqlx::query("UPDATE audit_events SET hash = $1 WHERE id = $2")
            .bind(&previous)
            .bind(row.id)
            .execute(&app.state.db.pool)
            .await
            .expect("rehash");
    }
    sqlx::query("UPDATE audit_chains SET head = $1 WHERE org_key = $2")
        .bind(&previous)
        .bind(org)
        .execute(&app.state.db.pool)
        .await
        .expect("head");
    let checkpoint = app
        .count(&format!(
            "SELECT id FROM audit_events WHERE org_id = {org} AND action = 'audit.checkpoint'"
        ))
        .await;
    let r = report(&app, org).await;
    let why = r.broken.clone().unwrap_or_default();
    assert!(
        why.contains(&format!(
            "checkpoint event {checkpoint} signed another head"
        )),
        "{r:?}"
    );
    // Signing a new checkpoint needs the key.
    sql(
        &app,
        &format!(
            "UPDATE audit_events SET details = REPLACE(details, '\"signature\":\"', '\"signature\":\"0') WHERE id = {checkpoint}"
        ),
    )
    .await;
    let r = report(&app, org).await;
    assert!(r.broken.is_some(), "{r:?}");
}

async fn events_of_an_older_version_join_the_chain(mut app: TestApp) {
    let (org, key) = org_with_events(&app, "Older", 2).await;
    let events = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE org_id = {org}"
        ))
        .await;
    // As the database was before this version: no chain at all.
    sql(&app, "UPDATE audit_events SET seq = NULL, hash = NULL").await;
    sql(&app, "DELETE FROM audit_chains").await;
    let r = report(&app, org).await;
    assert_eq!((r.events, r.unchained), (0, events), "{r:?}");
    // The next write chains them, in the order they were written, before itself.
    app.api(
        "POST",
        "/api/v1/groups",
        Some(&key),
        Some(json!({"name": "after", "scans_limit": 1})),
    )
    .await
    .expect_status(201);
    let r = report(&app, org).await;
    assert_eq!(
        (r.broken.clone(), r.events, r.unchained),
        (None, events + 1, 0),
        "{r:?}"
    );
    let first = app
        .count(&format!(
            "SELECT MIN(id) FROM audit_events WHERE org_id = {org}"
        ))
        .await;
    assert_eq!(at(&app, org, 1).await, first);

    // And a server starting on such a database chains them all before it serves.
    sql(&app, "UPDATE audit_events SET seq = NULL, hash = NULL").await;
    sql(&app, "DELETE FROM audit_chains").await;
    app = app.restart().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE seq IS NULL")
            .await,
        0
    );
    let r = report(&app, org).await;
    assert_eq!((r.broken.clone(), r.events), (None, events + 1), "{r:?}");
    let output = admin_verify(&app, &[]).await;
    assert!(output.status.success(), "{}", shown(&output));
}

async fn an_export_verifies_offline(app: TestApp) {
    let (org, key) = org_with_events(&app, "Exported", 4).await;
    // A name with what JSON escapes, to hold the two encoders to one text.
    app.api(
        "POST",
        "/api/v1/groups",
        Some(&key),
        Some(json!({"name": "Ops \"α\" \\ 🚀", "scans_limit": 1})),
    )
    .await
    .expect_status(201);
    let events = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE org_id = {org}"
        ))
        .await;
    let response = app
        .client
        .get(app.url("/api/v1/audit-events"))
        .bearer_auth(&key)
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200, "GET /api/v1/audit-events (jsonl)");
    let body = response.text().await.expect("body");
    let dir = std::env::temp_dir().join(format!("gatehouse-chain-{}-{org}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("folder");
    let _cleanup = common::TempDir(dir.clone());
    let file = dir.join("audit.jsonl");
    std::fs::write(&file, &body).expect("export file");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/verify-audit-export.py"
    );
    let run = |path: std::path::PathBuf| {
        Command::new("python3")
            .arg(script)
            .arg(path)
            .output()
            .expect("python3 runs")
    };
    let output = run(file.clone());
    let text = shown(&output);
    assert!(output.status.success(), "{text}\nexport:\n{body}");
    let head: String = sqlx::query_scalar("SELECT head FROM audit_chains WHERE org_key = $1")
        .bind(org)
        .fetch_one(&app.state.db.pool)
        .await
        .expect("head");
    assert!(
        text.contains(&format!("intact: {events} events, head {head}")),
        "{text}"
    );

    // One event's target changed in the file.
    let mut lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    lines[1]["target"] = json!("someone else");
    let victim = lines[1]["id"].as_i64().expect("id");
    let altered: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, altered).expect("altered file");
    let output = run(file.clone());
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("event {victim} ")), "{text}");
}

/// Writers on two replicas at once, each event chained under its organization's lock: one
/// chain, no place taken twice, none skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_writing_at_once_make_one_chain() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(a) = TestApp::spawn(backend).await else {
            eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL to run this test on PostgreSQL");
            continue;
        };
        let b = a.replica().await;
        let (org, key) = org_with_events(&a, "Busy", 0).await;
        let mut writers = Vec::new();
        for (n, replica) in [&a, &b, &a, &b, &a, &b].into_iter().enumerate() {
            let (client, base, key) = (replica.client.clone(), replica.url(""), key.clone());
            writers.push(tokio::spawn(async move {
                for i in 0..15 {
                    let resp = client
                        .post(format!("{base}/api/v1/groups"))
                        .bearer_auth(&key)
                        .json(&json!({"name": format!("w{n}-{i}"), "scans_limit": 1}))
                        .send()
                        .await
                        .expect("a write");
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    assert_eq!(status, 201, "POST /api/v1/groups on a replica: {body}");
                }
            }));
        }
        for writer in writers {
            writer.await.expect("writer");
        }
        let events = a
            .count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE org_id = {org}"
            ))
            .await;
        assert!(events >= 90, "{events} events");
        let r = report(&a, org).await;
        assert_eq!(
            (r.broken.clone(), r.events, r.unchained),
            (None, events, 0),
            "{backend:?}: {r:?}"
        );
        eprintln!("figure: {events} events from two replicas at once, one chain, on {backend:?}");
    }
}
