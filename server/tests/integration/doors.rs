//! Every organization policy holds on every door. The doors are read from the server itself:
//! every server function Gatehouse registers, and every route of the REST API's OpenAPI
//! document. Each is classified below as acting in an organization or not; a door added later
//! and not classified fails the test, and each organization door is called with a session
//! (or key) that falls short of each policy, expecting that policy's refusal.

use crate::common;

use common::{Resp, TestApp};
use serde_json::Value;
use std::collections::BTreeSet;

on_both_databases!(
    every_organization_door_refuses_a_session_that_falls_short_of_each_policy,
    every_rest_route_refuses_a_key_whose_owner_falls_short_of_the_two_factor_policy,
);

/// Server functions that act in an organization (`org_id`), with the other fields they take.
/// The policy is decided before any of those fields is looked at, so the values only need to
/// parse.
const ORGANIZATION_DOORS: &[(&str, &[(&str, &str)])] = &[
    (
        "api_keys/create",
        &[("name", "k"), ("scopes", "org:read"), ("expiry", "30")],
    ),
    ("audit/list", &[]),
    ("org/audit_streams", &[]),
    (
        "org/audit_streams/add",
        &[
            ("kind", "json_lines"),
            ("url", "https://siem.door.example/"),
            ("secret", "0123456789abcdef"),
        ],
    ),
    ("org/audit_streams/remove", &[("stream_id", "1")]),
    ("org/policies/preview", &[("policy", "two_factor")]),
    ("org/policies/trials", &[]),
    (
        "org/policies/trials/start",
        &[("policy", "two_factor"), ("days", "7")],
    ),
    ("org/policies/trials/stop", &[("policy", "two_factor")]),
    ("billing/get", &[]),
    (
        "billing/update",
        &[("plan", "team"), ("seats", "5"), ("billing_email", "")],
    ),
    ("org/provisioning", &[]),
    ("org/provisioning/token", &[("name", "Okta")]),
    ("org/provisioning/revoke", &[("token_id", "1")]),
    ("org/provisioning/role", &[("role", "user")]),
    ("org/domains", &[]),
    ("org/domains/add", &[("domain", "door.example")]),
    ("org/domains/verify", &[("id", "1")]),
    ("org/domains/remove", &[("id", "1")]),
    ("groups/list", &[]),
    ("groups/member_suggestions", &[("q", "a")]),
    ("groups/create", &[("name", "G"), ("scans_limit", "1")]),
    ("groups/get", &[("group_id", "1")]),
    (
        "groups/update",
        &[("group_id", "1"), ("name", "G"), ("scans_limit", "1")],
    ),
    ("groups/members/add", &[("group_id", "1"), ("user_id", "1")]),
    (
        "groups/members/remove",
        &[("group_id", "1"), ("user_id", "1")],
    ),
    ("groups/delete", &[("group_id", "1"), ("confirm", "G")]),
    ("integrations/get", &[("group_id", "1")]),
    (
        "integrations/save",
        &[("group_id", "1"), ("kind", "webhook")],
    ),
    (
        "integrations/test",
        &[("group_id", "1"), ("kind", "webhook")],
    ),
    (
        "invitations/create",
        &[("name", "N"), ("email", "n@door.example"), ("role", "user")],
    ),
    ("invitations/pending", &[]),
    ("invitations/revoke", &[("id", "1")]),
    ("invitations/resend", &[("id", "1")]),
    ("members/list", &[]),
    ("members/role", &[("user_id", "1"), ("role", "user")]),
    ("members/remove", &[("user_id", "1")]),
    ("members/reset_two_factor", &[("user_id", "1")]),
    ("members/leave", &[]),
    ("org/settings", &[]),
    ("org/rename", &[("organization", "Renamed")]),
    ("org/delete", &[("confirm", "x")]),
    ("overview", &[]),
    ("scans/list", &[]),
    ("scans/groups", &[]),
    (
        "scans/create",
        &[("group_id", "1"), ("target", "https://scan.example")],
    ),
    ("scans/cancel", &[("scan_id", "1")]),
    ("scans/get", &[("scan_id", "1")]),
    ("scans/group", &[("group_id", "1")]),
    ("org/sso", &[]),
    (
        "org/sso/save",
        &[
            ("issuer", "https://idp.example"),
            ("client_id", "c"),
            ("client_secret", "s"),
            ("allowed_domains", "door.example"),
            ("default_role", "user"),
        ],
    ),
    ("org/sso/remove", &[]),
    ("org/sso/required", &[("required", "true")]),
    ("org/two_factor", &[]),
    ("org/two_factor/notify", &[]),
    (
        "org/two_factor/set",
        &[("require", "on"), ("grace_days", "0")],
    ),
];

/// Server functions that do not act in an organization, and why they need no policy of one.
const ACCOUNT_DOORS: &[(&str, &str)] = &[
    (
        "session",
        "reads who is signed in, so the pages can say what each organization asks",
    ),
    ("sign_up", "makes a new account and organization"),
    ("sign_in", "signing in"),
    ("sign_out", "signing out"),
    (
        "switch_org",
        "chooses which organization the pages show; those pages are doors",
    ),
    ("auth/confirm_access", "proves the person again"),
    ("auth/change_password", "the person's own account"),
    ("auth/change_name", "the person's own account"),
    ("api_keys/view", "the person's own keys"),
    (
        "api_keys/revoke",
        "ends one of the person's own keys (less access, never more)",
    ),
    (
        "api_keys/dismiss_expiry_notices",
        "the person's own notices",
    ),
    ("sessions/list", "the person's own sessions"),
    ("sessions/sign_out", "ends one of the person's own sessions"),
    (
        "sessions/sign_out_others",
        "ends the person's other sessions",
    ),
    (
        "invitations/view",
        "an invitation link, before its organization is joined",
    ),
    (
        "invitations/accept_new",
        "joins by invitation (the policy then holds at the first door)",
    ),
    (
        "invitations/accept",
        "joins by invitation (the policy then holds at the first door)",
    ),
    (
        "sso/offered",
        "whether the sign-in page shows single sign-on",
    ),
    ("two_factor/status", "the person's own second factors"),
    (
        "two_factor/start",
        "the person's own second factors (how a policy is met)",
    ),
    (
        "two_factor/confirm",
        "the person's own second factors (how a policy is met)",
    ),
    (
        "two_factor/recovery_codes",
        "the person's own second factors",
    ),
    (
        "two_factor/disable",
        "the person's own second factors (refused while required)",
    ),
    ("sign_in/second_factor", "the second step of signing in"),
    ("sign_in/methods", "the second step of signing in"),
    ("sign_in/passkey_start", "the second step of signing in"),
    ("sign_in/passkey", "the second step of signing in"),
    (
        "passkeys/start",
        "the person's own second factors (how a policy is met)",
    ),
    (
        "passkeys/finish",
        "the person's own second factors (how a policy is met)",
    ),
    ("passkeys/rename", "the person's own second factors"),
    ("passkeys/verify_start", "the person's own second factors"),
    (
        "passkeys/remove",
        "the person's own second factors (refused while required)",
    ),
    (
        "step_up/code",
        "how a session meets what an organization asks",
    ),
    (
        "step_up/passkey_start",
        "how a session meets what an organization asks",
    ),
    (
        "step_up/passkey",
        "how a session meets what an organization asks",
    ),
];

#[test]
fn every_registered_server_function_is_classified() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect();
    let classified: BTreeSet<String> = ORGANIZATION_DOORS
        .iter()
        .map(|(p, _)| p.to_string())
        .chain(ACCOUNT_DOORS.iter().map(|(p, _)| p.to_string()))
        .collect();
    let unclassified: Vec<&String> = registered.difference(&classified).collect();
    assert!(
        unclassified.is_empty(),
        "new server functions: add each to ORGANIZATION_DOORS (it acts in an organization and \
         must refuse what the organization's policies refuse) or ACCOUNT_DOORS (say why not): \
         {unclassified:?}"
    );
    let gone: Vec<&String> = classified.difference(&registered).collect();
    assert!(gone.is_empty(), "no longer registered: {gone:?}");
}

/// A policy, the way the organization's data holds it, and the refusal it gives.
struct Policy {
    name: &'static str,
    code: &'static str,
}

const POLICIES: &[Policy] = &[
    Policy {
        name: "Require single sign-on, for a password session",
        code: "sso_required",
    },
    Policy {
        name: "Require two-factor authentication, for a member without it",
        code: "two_factor_required",
    },
    Policy {
        name: "a member with 2FA whose session came through another organization's provider",
        code: "step_up_required",
    },
    Policy {
        name: "security keys and passkeys only, for a session signed in with an app code",
        code: "step_up_required",
    },
];

/// Makes the organization and the member's session fall short of `policy`, with the same
/// statements an Owner's settings and a sign-in leave in the database.
async fn fall_short(app: &TestApp, policy: usize, org_id: i64, other_org: i64, user_id: i64) {
    let sql: Vec<String> = match policy {
        0 => vec![format!(
            "INSERT INTO sso_connections (org_id, issuer, client_id, client_secret, default_role,
                                          provider_mfa, required, tested_at, updated_at)
             VALUES ({org_id}, 'https://idp.door.example', 'c', 'sealed', 'user', 0, 1, 1, 1)"
        )],
        1 => vec![format!(
            "UPDATE organizations SET require_two_factor = 1, two_factor_since = 0,
                    two_factor_deadline = 0 WHERE id = {org_id}"
        )],
        2 => vec![
            format!("UPDATE users SET two_factor_at = 1, totp_enabled_at = 1 WHERE id = {user_id}"),
            // Signed in through the other organization's provider, whose MFA it counts.
            format!(
                "UPDATE sessions SET methods = 'sso sso_mfa', sso_org_id = {other_org}
                 WHERE user_id = {user_id}"
            ),
        ],
        _ => vec![
            format!(
                "UPDATE users SET two_factor_at = 1, totp_enabled_at = 1, passkey_at = 1
                 WHERE id = {user_id}"
            ),
            format!("UPDATE sessions SET methods = 'pwd otp' WHERE user_id = {user_id}"),
            format!(
                "UPDATE organizations SET require_two_factor = 2, two_factor_since = 0,
                    two_factor_deadline = 0 WHERE id = {org_id}"
            ),
        ],
    };
    for statement in sql {
        sqlx::query(&statement)
            .execute(&app.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

async fn every_organization_door_refuses_a_session_that_falls_short_of_each_policy(app: TestApp) {
    for (index, policy) in POLICIES.iter().enumerate() {
        let (owner, org_id) = app
            .new_org(
                &format!("owner{index}@door.example"),
                &format!("Door {index}"),
            )
            .await;
        let (_, other_org) = app
            .new_org(
                &format!("other{index}@door.example"),
                &format!("Other {index}"),
            )
            .await;
        // An Admin: every door's role check would pass, so only the policy refuses.
        let email = format!("admin{index}@door.example");
        let (member, user_id) = app.add_member(&owner, org_id, &email, "admin").await;
        sqlx::query(&format!(
            "INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
             VALUES ({other_org}, {user_id}, 'user', 0, 'Member')"
        ))
        .execute(&app.state.db.pool)
        .await
        .expect("a membership of the other organization");
        // Before: the member gets through (a door refused here would prove nothing below).
        app.call(&member, "org/settings", &[("org_id", &org_id.to_string())])
            .await
            .expect_status(200);
        fall_short(&app, index, org_id, other_org, user_id).await;
        let mut wrong = Vec::new();
        for (door, fields) in ORGANIZATION_DOORS {
            let org = org_id.to_string();
            let mut form = vec![("org_id", org.as_str())];
            form.extend_from_slice(fields);
            let resp = app.call(&member, door, &form).await;
            if !refused_with(&resp, policy.code) {
                wrong.push(format!(
                    "{}\n  -> {} {}",
                    resp.request, resp.status, resp.body
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "policy \"{}\": these doors did not answer 403 {}:\n{}",
            policy.name,
            policy.code,
            wrong.join("\n")
        );
        // The pages too: answered 403 or sent through the organization's provider.
        let page = app
            .get(&member, "/members", &[("accept", "text/html")])
            .await;
        assert!(
            page.status == 403
                || (page.status == 302
                    && page
                        .header("location")
                        .is_some_and(|l| l.starts_with("/sso/start?org="))),
            "policy \"{}\": {} -> {} {:?}",
            policy.name,
            page.request,
            page.status,
            page.header("location")
        );
        // And Test connection, the one door outside the server functions.
        let test = member
            .post(app.url("/sso/test"))
            .form(&[("org", org_id.to_string())])
            .send()
            .await
            .expect("POST /sso/test");
        assert_eq!(test.status(), 403, "policy \"{}\": /sso/test", policy.name);
    }
}

fn refused_with(resp: &Resp, code: &str) -> bool {
    resp.status == 403
        && serde_json::from_str::<Value>(&resp.body).is_ok_and(|body| body["code"] == code)
}

async fn every_rest_route_refuses_a_key_whose_owner_falls_short_of_the_two_factor_policy(
    app: TestApp,
) {
    let doc = app
        .api("GET", "/api/v1/openapi.json", None, None)
        .await
        .expect_status(200)
        .json();
    let paths = doc["paths"].as_object().expect("paths").clone();
    for level in [1, 2] {
        let (owner, org_id) = app
            .new_org(
                &format!("owner{level}@rest.example"),
                &format!("Rest {level}"),
            )
            .await;
        let email = format!("admin{level}@rest.example");
        let (member, user_id) = app.add_member(&owner, org_id, &email, "admin").await;
        let key = app
            .create_key(
                &member,
                org_id,
                "org:read members:read groups:read scans:read scans:write audit:read billing:read",
                "30",
            )
            .await;
        app.api("GET", "/api/v1/me", Some(&key), None)
            .await
            .expect_status(200);
        if level == 2 {
            // Security keys only: an authenticator app does not count.
            sqlx::query(&format!(
                "UPDATE users SET two_factor_at = 1, totp_enabled_at = 1 WHERE id = {user_id}"
            ))
            .execute(&app.state.db.pool)
            .await
            .expect("an app-only member");
        }
        sqlx::query(&format!(
            "UPDATE organizations SET require_two_factor = {level}, two_factor_since = 0,
                    two_factor_deadline = 0 WHERE id = {org_id}"
        ))
        .execute(&app.state.db.pool)
        .await
        .expect("policy");
        app.state.key_cache.settle(&app.state.db).await;
        let mut wrong = Vec::new();
        let mut called = 0;
        for (path, operations) in &paths {
            if path.ends_with("/openapi.json") {
                continue;
            }
            let concrete = path
                .split('/')
                .map(|part| if part.starts_with('{') { "1" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            for method in operations.as_object().expect("operations").keys() {
                let method = method.to_ascii_uppercase();
                let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH")
                    .then(|| serde_json::json!({}));
                let resp = app.api(&method, &concrete, Some(&key), body).await;
                called += 1;
                if !refused_with(&resp, "two_factor_required") {
                    wrong.push(format!("{} -> {} {}", resp.request, resp.status, resp.body));
                }
            }
        }
        assert!(called > 20, "the document lists the API's routes: {called}");
        assert!(
            wrong.is_empty(),
            "require_two_factor = {level}: these routes did not answer 403 two_factor_required:\n{}",
            wrong.join("\n")
        );
    }
}
