//! Audit log exports: the filtered log as CSV and JSON Lines, from the page's Download links
//! (session) and from the REST API (`Accept`), equal to the filtered pages, across the
//! batches the server streams in.

use crate::common;

use common::{Resp, TestApp};
use serde_json::Value;

/// Adds `n` events to the organization, half of them `member.*`, acted by `actor_id`.
async fn seed_events(app: &TestApp, org: i64, actor_id: i64, n: i64) {
    let mut tx = app.state.db.pool.begin().await.expect("tx");
    for i in 0..n {
        let action = if i % 2 == 0 {
            "member.role_changed"
        } else {
            "group.updated"
        };
        sqlx::query(
            "INSERT INTO audit_events (org_id, actor_user_id, action, target, ip, details, created_at)
             VALUES ($1, $2, $3, $4, '192.0.2.1', $5, $6)",
        )
        .bind(org)
        .bind(actor_id)
        .bind(action)
        .bind(format!("user:{i}"))
        .bind(format!(r#"{{"n":{i},"note":"a, \"quoted\" value"}}"#))
        .bind(app.now())
        .execute(&mut *tx)
        .await
        .expect("insert event");
    }
    tx.commit().await.expect("commit");
}

/// Every event of the REST JSON pages for `query`: (id, actor, action, target).
async fn paged(app: &TestApp, key: &str, query: &str) -> Vec<(i64, String, String, String)> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit-events?{query}&limit=200&cursor={c}"),
            None => format!("/api/v1/audit-events?{query}&limit=200"),
        };
        let page = app
            .api("GET", &path, Some(key), None)
            .await
            .expect_status(200)
            .json();
        for e in page["events"].as_array().expect("events") {
            events.push((
                e["id"].as_i64().expect("id"),
                e["actor"].as_str().unwrap_or_default().to_string(),
                e["action"].as_str().unwrap_or_default().to_string(),
                e["target"].as_str().unwrap_or_default().to_string(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return events,
        }
    }
}

/// RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
/// `GET path` with the key, asking for an export in the `accept` format.
async fn export(app: &TestApp, key: &str, path: &str, accept: &str) -> Resp {
    app.api_raw(
        "GET",
        path,
        &[
            ("Authorization", &format!("Bearer {key}")),
            ("Accept", accept),
        ],
        "",
    )
    .await
}

fn parse_csv(body: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, body.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

async fn exports_equal_the_filtered_pages_in_both_formats(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let owner_id = app.user_id(&owner).await;
    // A name a spreadsheet would run as a formula, with a comma and a quote.
    app.call(
        &owner,
        "auth/change_name",
        &[("name", "=HYPERLINK(\"x\"), Eve")],
    )
    .await
    .expect_status(200);
    let key = app.create_key(&owner, org, "audit:read", "30").await;
    // More than two of the server's batches of 1,000.
    seed_events(&app, org, owner_id, 2_345).await;
    let query = "action=member.";
    let expected = paged(&app, &key, query).await;
    assert!(expected.len() > 1_000, "{} events", expected.len());

    // CSV over REST.
    let csv = export(
        &app,
        &key,
        &format!("/api/v1/audit-events?{query}"),
        "text/csv",
    )
    .await
    .expect_status(200);
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8"),
        "{}",
        csv.request
    );
    assert!(
        csv.header("content-disposition").is_some_and(|d| d
            .starts_with("attachment; filename=\"audit-")
            && d.ends_with(".csv\"")),
        "{:?}",
        csv.header("content-disposition")
    );
    let records = parse_csv(&csv.body);
    assert_eq!(
        records[0],
        [
            "id",
            "time",
            "actor",
            "actor_email",
            "action",
            "target",
            "ip",
            "details",
            "org_id",
            "actor_user_id",
            "created_at",
            "seq",
            "hash"
        ]
    );
    let from_csv: Vec<(i64, String, String, String)> = records[1..]
        .iter()
        .map(|r| {
            (
                r[0].parse().unwrap_or_else(|_| panic!("id in {r:?}")),
                r[2].clone(),
                r[4].clone(),
                r[5].clone(),
            )
        })
        .map(|(id, actor, action, target)| {
            // The export defuses formulas; the page shows the name as it is.
            (id, actor.replacen("'=", "=", 1), action, target)
        })
        .collect();
    assert_eq!(from_csv.len(), expected.len());
    assert_eq!(from_csv, expected);
    assert!(records[1][2].starts_with("'=HYPERLINK"), "{:?}", records[1]);
    assert_eq!(records[1][3], "owner@example.com");
    let details: Value = serde_json::from_str(&records[1][7]).expect("details JSON");
    assert_eq!(details["note"], "a, \"quoted\" value");

    // JSON Lines over REST.
    let lines = export(
        &app,
        &key,
        &format!("/api/v1/audit-events?{query}"),
        "application/x-ndjson",
    )
    .await
    .expect_status(200);
    assert_eq!(
        lines.header("content-type").as_deref(),
        Some("application/x-ndjson")
    );
    let from_lines: Vec<(i64, String, String, String)> = lines
        .body
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap_or_else(|err| panic!("{err}: {l}"));
            (
                e["id"].as_i64().expect("id"),
                e["actor"].as_str().unwrap_or_default().to_string(),
                e["action"].as_str().unwrap_or_default().to_string(),
                e["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(from_lines, expected);

    // The page's Download link, with the session: the same file.
    let download = app
        .get(
            &owner,
            &format!("/audit/export?org_id={org}&format=csv&action=member."),
            &[],
        )
        .await
        .expect_status(200);
    assert_eq!(download.body, csv.body);

    // An export from a cursor is the rest of the log; a bad date is refused before streaming.
    let cursor = expected[99].0;
    let rest = export(
        &app,
        &key,
        &format!("/api/v1/audit-events?{query}&cursor={cursor}"),
        "text/csv",
    )
    .await
    .expect_status(200);
    assert_eq!(parse_csv(&rest.body).len() - 1, expected.len() - 100);
    export(
        &app,
        &key,
        "/api/v1/audit-events?from=yesterday",
        "text/csv",
    )
    .await
    .expect_error(422, "invalid_input", Some("from"));
}

async fn downloads_follow_the_roles_and_the_organization(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let (user, _) = app
        .add_member(&owner, org, "user@example.com", "user")
        .await;
    let (admin, _) = app
        .add_member(&owner, org, "admin@example.com", "admin")
        .await;
    let (_, other_org) = app.new_org("other@example.com", "Other").await;
    let path = |org: i64, format: &str| format!("/audit/export?org_id={org}&format={format}");
    let admin_file = app
        .get(&admin, &path(org, "jsonl"), &[])
        .await
        .expect_status(200);
    assert!(
        admin_file
            .body
            .lines()
            .any(|l| l.contains("\"invitation.accepted\"")),
        "{}",
        admin_file.body
    );
    app.get(&user, &path(org, "csv"), &[])
        .await
        .expect_error(403, "forbidden", None);
    app.get(&admin, &path(other_org, "csv"), &[])
        .await
        .expect_error(404, "not_found", None);
    app.get(&admin, &path(org, "xlsx"), &[]).await.expect_error(
        422,
        "invalid_input",
        Some("format"),
    );
    let signed_out = app.new_client();
    let resp = app.get(&signed_out, &path(org, "csv"), &[]).await;
    assert_eq!(resp.status, 302, "{} {}", resp.request, resp.body);
    assert_eq!(resp.header("location").as_deref(), Some("/signin"));
}

on_both_databases!(
    exports_equal_the_filtered_pages_in_both_formats,
    downloads_follow_the_roles_and_the_organization,
);
