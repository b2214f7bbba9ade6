//! Verified domains against a real DNS server (hickory-server in the test process, see
//! `common/dns.rs`): the TXT record an Owner publishes, each reason a check fails, and the
//! take-over of a domain by another organization that proves control of it.

use crate::common;

use common::smtp::{decode_body, SmtpSink};
use common::{Backend, TestApp};
use serde_json::Value;
use std::time::Duration;

on_both_databases!(
    an_owner_verifies_a_domain_by_its_txt_record,
    another_organization_that_proves_control_takes_the_domain_over,
);

async fn an_owner_verifies_a_domain_by_its_txt_record(app: TestApp) {
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    let org = org_id.to_string();
    // Bad input names its field and changes nothing.
    for bad in ["", "not a domain", "localhost", "a..example"] {
        app.call(
            &owner,
            "org/domains/add",
            &[("org_id", &org), ("domain", bad)],
        )
        .await
        .expect_error(422, "invalid_input", Some("domain"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM org_domains").await, 0);

    let entry = app.add_domain(&owner, org_id, "Corp.Example").await;
    assert_eq!(entry["domain"], "corp.example", "{entry}");
    assert_eq!(entry["status"]["state"], "pending", "{entry}");
    let record_name = format!("_gatehouse-challenge-{org_id}.corp.example");
    assert_eq!(entry["record_name"], record_name.as_str(), "{entry}");
    let value = entry["record_value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        value.starts_with("gatehouse-domain-verification=") && value.len() > 40,
        "{entry}"
    );
    let id = entry["id"].as_i64().expect("id");
    app.call(
        &owner,
        "org/domains/add",
        &[("org_id", &org), ("domain", "corp.example")],
    )
    .await
    .expect_error(409, "conflict", Some("domain"));

    // Nothing published yet.
    let checked = app.check_domain(&owner, org_id, id).await;
    assert_eq!(checked["status"]["state"], "pending", "{checked}");
    let why = checked["check_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("No TXT record at") && why.contains(&record_name),
        "{checked}"
    );
    // Published at the domain itself rather than at the name shown.
    app.dns.set_txt("corp.example", &[&value]).await;
    let checked = app.check_domain(&owner, org_id, id).await;
    assert_eq!(checked["status"]["state"], "pending", "{checked}");
    // A wrong value is named.
    app.dns
        .set_txt(
            &record_name,
            &["gatehouse-domain-verification=someone-elses"],
        )
        .await;
    let checked = app.check_domain(&owner, org_id, id).await;
    assert_eq!(checked["status"]["state"], "pending", "{checked}");
    let why = checked["check_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("says \"gatehouse-domain-verification=someone-elses\"")
            && why.contains(&value),
        "{checked}"
    );
    // The right one, beside another record at the same name.
    app.dns
        .set_txt(&record_name, &["v=spf1 -all", &value])
        .await;
    let checked = app.check_domain(&owner, org_id, id).await;
    assert_eq!(checked["status"]["state"], "verified", "{checked}");
    assert_eq!(checked["check_error"], Value::Null, "{checked}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'org.domain_verified'")
            .await,
        1
    );
    // Verifying again changes nothing and audits nothing more.
    app.check_domain(&owner, org_id, id).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'org.domain_verified'")
            .await,
        1
    );

    // Only the Owner; another organization's id is 404, as is another organization's domain.
    let (admin, _) = app
        .add_member(&owner, org_id, "admin@corp.example", "admin")
        .await;
    app.call(&admin, "org/domains", &[("org_id", &org)])
        .await
        .expect_error(403, "forbidden", None);
    app.call(
        &admin,
        "org/domains/verify",
        &[("org_id", &org), ("id", &id.to_string())],
    )
    .await
    .expect_error(403, "forbidden", None);
    let (other, other_org) = app.new_org("x@other.example", "Other").await;
    app.call(&other, "org/domains", &[("org_id", &org)])
        .await
        .expect_error(404, "not_found", None);
    app.call(
        &other,
        "org/domains/remove",
        &[("org_id", &other_org.to_string()), ("id", &id.to_string())],
    )
    .await
    .expect_error(404, "not_found", None);

    // Changes ask for Confirm access once the session's proof is old.
    app.clock.advance(Duration::from_secs(11 * 60));
    app.call(
        &owner,
        "org/domains/add",
        &[("org_id", &org), ("domain", "b.example")],
    )
    .await
    .expect_error(403, "reauthentication_required", None);
    app.call(
        &owner,
        "auth/confirm_access",
        &[("password", common::PASSWORD)],
    )
    .await
    .expect_status(200);
    app.call(
        &owner,
        "org/domains/remove",
        &[("org_id", &org), ("id", &id.to_string())],
    )
    .await
    .expect_status(200);
    assert_eq!(app.count("SELECT COUNT(*) FROM org_domains").await, 0);
    for action in ["org.domain_added", "org.domain_removed"] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND org_id = {org_id}"
            ))
            .await,
            1,
            "{action}"
        );
    }
}

async fn another_organization_that_proves_control_takes_the_domain_over(app: TestApp) {
    let (first, first_org) = app.new_org("first@one.example", "First").await;
    let (second, second_org) = app.new_org("second@two.example", "Second").await;
    app.verify_domain(&first, first_org, "shared.example").await;
    // The second organization lists it too; its own record, not the first one's, proves it.
    let entry = app.add_domain(&second, second_org, "shared.example").await;
    let id = entry["id"].as_i64().expect("id");
    let first_record = format!("_gatehouse-challenge-{first_org}.shared.example");
    assert_ne!(entry["record_name"], first_record.as_str());
    let checked = app.check_domain(&second, second_org, id).await;
    assert_eq!(checked["status"]["state"], "pending", "{checked}");
    let name = entry["record_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let value = entry["record_value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    app.dns.set_txt(&name, &[&value]).await;
    let checked = app.check_domain(&second, second_org, id).await;
    assert_eq!(checked["status"]["state"], "verified", "{checked}");

    // The first organization sees it taken over, on its panel and its overview.
    let first_view = app
        .call(&first, "org/domains", &[("org_id", &first_org.to_string())])
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        first_view["domains"][0]["status"]["state"], "taken_over",
        "{first_view}"
    );
    let overview = app
        .call(&first, "overview", &[("org_id", &first_org.to_string())])
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        overview["domains_taken_over"][0][0], "shared.example",
        "{overview}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM org_domains WHERE domain = 'shared.example' AND verified_at IS NOT NULL")
            .await,
        1
    );
    // Audited in both, and the first learns nothing about who took it.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.domain_lost' AND org_id = {first_org}"
        ))
        .await,
        1
    );
    let (details,): (String,) =
        sqlx::query_as("SELECT details FROM audit_events WHERE action = 'org.domain_lost'")
            .fetch_one(&app.state.db.pool)
            .await
            .expect("lost event");
    assert!(
        !details.contains("Second") && !details.contains("two.example"),
        "{details}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.domain_verified' AND org_id = {second_org}
             AND details LIKE '%\"taken_over_from_another_organization\":true%'"
        ))
        .await,
        1
    );
    // And the first can take it back the same way.
    let first_entry = &first_view["domains"][0];
    let back = app
        .check_domain(&first, first_org, first_entry["id"].as_i64().expect("id"))
        .await;
    assert_eq!(back["status"]["state"], "verified", "{back}");
}

/// The previous organization's Owners are told by email, over a real SMTP exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_who_lose_a_domain_are_emailed() {
    let mut sink = SmtpSink::start().await;
    let port = sink.port;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    })
    .await
    .expect("app");
    let (first, first_org) = app.new_org("olga@one.example", "First Co").await;
    let (second, second_org) = app.new_org("sam@two.example", "Second Co").await;
    app.verify_domain(&first, first_org, "shared.example").await;
    app.verify_domain(&second, second_org, "shared.example")
        .await;
    let mail = tokio::time::timeout(Duration::from_secs(10), sink.messages.recv())
        .await
        .ok()
        .flatten()
        .expect("an email to the first organization's Owner");
    let body = decode_body(&mail);
    assert!(body.contains("olga@one.example"), "{body}");
    assert!(
        body.contains("Subject: First Co: shared.example is no longer verified"),
        "{body}"
    );
    assert!(!body.contains("Second Co"), "{body}");
}

/// A resolver that does not answer: the panel says the look-up failed, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_failure_is_named_and_changes_nothing() {
    // A UDP port nobody answers on.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a silent port");
    let at = silent.local_addr().expect("address").to_string();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.dns_server = at)
        .await
        .expect("app");
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    let entry = app.add_domain(&owner, org_id, "corp.example").await;
    let checked = app
        .check_domain(&owner, org_id, entry["id"].as_i64().expect("id"))
        .await;
    assert_eq!(checked["status"]["state"], "pending", "{checked}");
    let why = checked["check_error"].as_str().unwrap_or_default();
    assert!(why.contains("The DNS look-up of"), "{checked}");
    assert!(why.contains("failed"), "{checked}");
    drop(silent);
}
