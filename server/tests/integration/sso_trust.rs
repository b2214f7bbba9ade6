//! Identity one organization cannot turn against another, end to end: real OpenID providers
//! (one per organization, each its own `oidc-provider` process), a real DNS server for the
//! verified domains, and the browser's side played by the test. Each test is a finding of the
//! review of single sign-on and passkeys, and failed before its fix.

use crate::common;

use common::oidc::CLIENT_SECRET;
use common::oidc::{arrive, arrive_through, begin, connect, through_provider, Provider};
use common::two_factor::{code_at, enable};
use common::webauthn::{new_key, register, sign_in_with_key, touch};
use common::{Resp, TestApp, PASSWORD};
use serde_json::{json, Value};
use std::time::Duration;

on_both_databases!(
    an_organization_cannot_speak_for_a_domain_it_does_not_control,
    a_domain_left_unverified_by_an_upgrade_routes_nobody,
    a_providers_answer_is_finished_only_for_its_own_connection,
    a_round_trip_starts_only_from_gatehouses_own_pages_and_names_nobody_else,
    a_providers_mfa_counts_only_in_its_own_organization,
    security_keys_only_asks_an_app_code_session_for_a_touch,
    the_last_two_passkeys_removed_at_once_leave_one,
    changing_an_organizations_security_asks_for_confirm_access,
    sign_ins_are_audited_in_each_organization_and_sessions_say_how,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.count(sql).await
}

/// An Owner's organization with `domain` verified and its own provider connected for it.
async fn organization_with_provider(
    app: &TestApp,
    owner_email: &str,
    name: &str,
    domain: &str,
    accounts: Value,
    provider_mfa: &str,
) -> (reqwest::Client, i64, Provider) {
    let (owner, org_id) = app.new_org(owner_email, name).await;
    app.verify_domain(&owner, org_id, domain).await;
    let provider = Provider::start(app, accounts, json!({})).await;
    connect(
        app,
        &owner,
        org_id,
        &provider.issuer,
        CLIENT_SECRET,
        domain,
        provider_mfa,
    )
    .await
    .expect_status(200);
    (owner, org_id, provider)
}

/// Finding "High": any organization could claim any email domain and have its provider
/// make accounts for another organization's people.
async fn an_organization_cannot_speak_for_a_domain_it_does_not_control(app: TestApp) {
    let (victim_owner, victim_org) = app.new_org("olga@victim.example", "Victim").await;
    // The attacker signs up (sign-up is open), and runs a provider that says whatever it likes.
    let (attacker, attacker_org) = app.new_org("mallory@evil.example", "Evil").await;
    let evil_provider = Provider::start(
        &app,
        json!({
            "alice": {"email": "alice@victim.example", "email_verified": true, "name": "Alice"},
        }),
        json!({}),
    )
    .await;
    // Listing the victim's domain is refused: the attacker never verified it...
    connect(
        &app,
        &attacker,
        attacker_org,
        &evil_provider.issuer,
        CLIENT_SECRET,
        "victim.example",
        "",
    )
    .await
    .expect_error(422, "invalid_input", Some("allowed_domains"));
    // ...and cannot: the victim's DNS does not carry the attacker's record.
    let entry = app
        .add_domain(&attacker, attacker_org, "victim.example")
        .await;
    let checked = app
        .check_domain(&attacker, attacker_org, entry["id"].as_i64().expect("id"))
        .await;
    assert_eq!(checked["status"]["state"], "pending", "{checked}");
    // With a domain it does control, its provider still speaks only for that domain.
    app.verify_domain(&attacker, attacker_org, "evil.example")
        .await;
    connect(
        &app,
        &attacker,
        attacker_org,
        &evil_provider.issuer,
        CLIENT_SECRET,
        "evil.example",
        "",
    )
    .await
    .expect_status(200);
    // The attacker's own round trip, asserting Alice: refused, and audited.
    let callback = through_provider(
        &app,
        &attacker,
        &format!("/sso/start?org={attacker_org}"),
        "alice",
    )
    .await;
    arrive(&attacker, &callback)
        .await
        .expect_redirect("/signin?sso_error=domain");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE email_normalized = 'alice@victim.example'"
        )
        .await,
        0,
        "no account was made for Alice"
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'user.sso_sign_in_failed'
                 AND org_id = {attacker_org} AND details LIKE '%alice@victim.example%'"
            )
        )
        .await,
        1
    );
    // Alice's work email is not routed to the attacker's provider.
    let resp = app
        .get(
            &app.new_client(),
            "/sso/start?email=alice@victim.example",
            &[],
        )
        .await;
    resp.expect_redirect("/signin?sso_error=no_provider");

    // The real organization verifies its domain and connects its own provider: nothing the
    // attacker did is in its way, and Alice's account is made there.
    app.verify_domain(&victim_owner, victim_org, "victim.example")
        .await;
    let victim_provider = Provider::start(
        &app,
        json!({"alice": {"email": "alice@victim.example", "email_verified": true, "name": "Alice Adams"}}),
        json!({}),
    )
    .await;
    connect(
        &app,
        &victim_owner,
        victim_org,
        &victim_provider.issuer,
        CLIENT_SECRET,
        "victim.example",
        "",
    )
    .await
    .expect_status(200);
    // The attacker's listing of the domain verifies nothing: one organization speaks for it.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM org_domains WHERE domain = 'victim.example' AND verified_at IS NOT NULL"
        )
        .await,
        1
    );
    let (alice, resp) =
        arrive_through(&app, "/sso/start?email=alice@victim.example", "alice").await;
    resp.expect_redirect("/");
    let session = app.session(&alice).await;
    assert_eq!(session["current_org"]["id"], victim_org, "{session}");
    assert_eq!(
        session["orgs"].as_array().map(Vec::len),
        Some(1),
        "{session}"
    );
    // The victim's invitation of a colleague finds no account planted for them.
    app.add_member(&victim_owner, victim_org, "bob@victim.example", "user")
        .await;
}

/// An existing connection whose domains were never verified (from before verified domains):
/// it routes nobody and makes no accounts, and the panel says so.
async fn a_domain_left_unverified_by_an_upgrade_routes_nobody(app: TestApp) {
    let (owner, org_id, _provider) = organization_with_provider(
        &app,
        "owner@corp.example",
        "Corp",
        "corp.example",
        json!({"alice": {"email": "alice@corp.example", "email_verified": true}}),
        "",
    )
    .await;
    let offered = || async {
        app.call(&app.new_client(), "sso/offered", &[])
            .await
            .expect_status(200)
            .json()
    };
    assert_eq!(offered().await, json!(true));
    // What an upgrade leaves: the allowed domain, and no verification of it.
    sqlx::query("DELETE FROM org_domains")
        .execute(&app.state.db.pool)
        .await
        .expect("no verified domains");
    assert_eq!(offered().await, json!(false));
    app.get(
        &app.new_client(),
        "/sso/start?email=alice@corp.example",
        &[],
    )
    .await
    .expect_redirect("/signin?sso_error=no_provider");
    let shown = app
        .call(&owner, "org/sso", &[("org_id", &org_id.to_string())])
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        shown["connection"]["unverified_domains"],
        json!(["corp.example"]),
        "{shown}"
    );
}

/// Mix-up (RFC 9207): an answer of one organization's provider, delivered to another
/// connection's callback (or to the shared callback without saying who answered), is refused.
async fn a_providers_answer_is_finished_only_for_its_own_connection(app: TestApp) {
    let alice = json!({"alice": {"email": "alice@a.example", "email_verified": true}});
    let (_a_owner, a_org, a_provider) =
        organization_with_provider(&app, "owner@a.example", "A", "a.example", alice.clone(), "")
            .await;
    let (_b_owner, b_org, b_provider) =
        organization_with_provider(&app, "owner@b.example", "B", "b.example", json!({}), "").await;
    let start = "/sso/start?email=alice@a.example";
    let own = format!("/sso/callback/{a_org}");
    let strip_iss = |url: &str| {
        let mut parsed = url::Url::parse(url).expect("callback URL");
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| k != "iss")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(kept);
        parsed.to_string()
    };

    // A's answer at B's callback.
    let browser = app.new_client();
    let callback = through_provider(&app, &browser, start, "alice").await;
    assert!(callback.contains(&own), "{callback}");
    let elsewhere = callback.replace(&own, &format!("/sso/callback/{b_org}"));
    arrive(&browser, &elsewhere)
        .await
        .expect_redirect("/signin?sso_error=mixed_up");
    assert_eq!(app.session(&browser).await, Value::Null);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'user.sso_sign_in_failed'
             AND details LIKE '%\"step\":\"issuer\"%'"
        )
        .await,
        1
    );
    // The shared callback of earlier versions: refused without `iss`...
    let browser = app.new_client();
    let callback = strip_iss(&through_provider(&app, &browser, start, "alice").await);
    arrive(&browser, &callback.replace(&own, "/sso/callback"))
        .await
        .expect_redirect("/signin?sso_error=mixed_up");
    // ...refused with another provider's...
    let browser = app.new_client();
    let callback = strip_iss(&through_provider(&app, &browser, start, "alice").await);
    let with_b = format!(
        "{}&iss={}",
        callback.replace(&own, "/sso/callback"),
        url::form_urlencoded::byte_serialize(b_provider.issuer.as_bytes()).collect::<String>()
    );
    arrive(&browser, &with_b)
        .await
        .expect_redirect("/signin?sso_error=mixed_up");
    // ...and finished with its own.
    let browser = app.new_client();
    let callback = strip_iss(&through_provider(&app, &browser, start, "alice").await);
    let with_a = format!(
        "{}&iss={}",
        callback.replace(&own, "/sso/callback"),
        url::form_urlencoded::byte_serialize(a_provider.issuer.as_bytes()).collect::<String>()
    );
    arrive(&browser, &with_a).await.expect_redirect("/");
    assert_eq!(app.session(&browser).await["email"], "alice@a.example");
}

/// Login CSRF and enumeration: a GET starts nothing, another site's POST is refused, and a
/// start by organization says nothing about an organization that is not the visitor's.
async fn a_round_trip_starts_only_from_gatehouses_own_pages_and_names_nobody_else(app: TestApp) {
    let (owner, org_id, provider) = organization_with_provider(
        &app,
        "owner@corp.example",
        "Corp",
        "corp.example",
        json!({}),
        "",
    )
    .await;
    let (_, plain_org) = app.new_org("x@plain.example", "Plain").await;
    let visitor = app.new_client();
    // A link (or another site's image or redirect) to a start: a page that names the
    // organization and its provider and asks, with nothing started.
    let page = app
        .get(&visitor, "/sso/start?email=alice@corp.example", &[])
        .await
        .expect_status(200);
    assert!(
        page.body.contains("Corp")
            && page.body.contains("127.0.0.1")
            && page.body.contains("method=\"post\" action=\"/sso/start\""),
        "{}",
        page.body
    );
    assert!(page.header("set-cookie").is_none(), "{:?}", page.headers);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sso_logins").await, 0);
    // Another site's form: refused before anything is stored.
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let resp = visitor
            .post(app.url("/sso/start"))
            .header(header, value)
            .form(&[("email", "alice@corp.example")])
            .send()
            .await
            .expect("POST /sso/start");
        assert_eq!(resp.status(), 403, "{header}: {value}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sso_logins").await, 0);
    // By organization: the same answer for one with single sign-on that is not the visitor's,
    // one without it, and one that does not exist; the issuer is named to members only.
    let (stranger, _) = app.new_org("s@stranger.example", "Stranger").await;
    for who in [&visitor, &stranger] {
        for org in [org_id, plain_org, 9_999] {
            for resp in [
                app.get(who, &format!("/sso/start?org={org}"), &[]).await,
                Resp::from(
                    format!("POST /sso/start org={org}"),
                    who.post(app.url("/sso/start"))
                        .form(&[("org", org.to_string())])
                        .send()
                        .await,
                )
                .await,
            ] {
                resp.expect_redirect("/signin?sso_error=no_provider");
                assert!(!resp.body.contains(&provider.issuer), "{}", resp.body);
            }
        }
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sso_logins").await, 0);
    let member_page = app
        .get(&owner, &format!("/sso/start?org={org_id}"), &[])
        .await
        .expect_status(200);
    assert!(
        member_page.body.contains(&provider.issuer),
        "{}",
        member_page.body
    );
    // The link step too takes a form of Gatehouse's own.
    let resp = owner
        .post(app.url("/sso/link"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("decision", "link")])
        .send()
        .await
        .expect("POST /sso/link");
    assert_eq!(resp.status(), 403);
    let _ = begin(&app, &owner, &format!("/sso/start?org={org_id}")).await;
}

/// Organization B's provider, asserting MFA, used to skip the second step of a member of
/// organization A and leave the session freshly confirmed there.
async fn a_providers_mfa_counts_only_in_its_own_organization(app: TestApp) {
    let mia = json!({"mia": {"email": "mia@corp.example", "email_verified": true, "name": "Mia", "amr": ["pwd", "mfa"]}});
    let (_owner, corp, _provider) = organization_with_provider(
        &app,
        "owner@corp.example",
        "Corp",
        "corp.example",
        mia,
        "on",
    )
    .await;
    // Mia joins Corp through its provider and turns on Gatehouse's own 2FA; she is also a
    // member of Other.
    let (mia_first, _) = arrive_through(&app, "/sso/start?email=mia@corp.example", "mia").await;
    let (secret, _) = enable(&app, &mia_first).await;
    let (other_owner, other) = app.new_org("owner@other.example", "Other").await;
    app.add_existing_member(&other_owner, other, &mia_first, "mia@corp.example", "admin")
        .await;

    // Back through Corp's provider, whose MFA Corp counts: no second step.
    let (mia, resp) = arrive_through(&app, "/sso/start?email=mia@corp.example", "mia").await;
    resp.expect_redirect("/");
    app.call(&mia, "org/settings", &[("org_id", &corp.to_string())])
        .await
        .expect_status(200);
    // In Other, Corp's provider speaks for nobody: step up first.
    let refused = app
        .call(&mia, "org/settings", &[("org_id", &other.to_string())])
        .await
        .expect_error(403, "step_up_required", None);
    assert_eq!(refused.json()["org_id"], other, "{}", refused.body);
    let session = app.session(&mia).await;
    let other_summary = session["orgs"]
        .as_array()
        .and_then(|orgs| orgs.iter().find(|o| o["id"] == other))
        .cloned()
        .unwrap_or_default();
    assert_eq!(other_summary["step_up"], "second_factor", "{session}");
    // Nor does it confirm access to the account others rely on.
    app.call(&mia, "passkeys/start", &[("name", "Key")])
        .await
        .expect_error(403, "step_up_required", None);
    // A key for Corp is Corp's business: its provider's MFA counts there.
    app.create_key(&mia, corp, "org:read", "30").await;
    app.call(
        &mia,
        "api_keys/create",
        &[
            ("name", "k"),
            ("org_id", &other.to_string()),
            ("scopes", "org:read"),
            ("expiry", "30"),
        ],
    )
    .await
    .expect_error(403, "step_up_required", None);

    // The step-up: her app's code, in place.
    app.call(&mia, "step_up/code", &[("code", "000000")])
        .await
        .expect_error(422, "invalid_input", Some("code"));
    let code = code_at(&secret, app.now());
    app.call(&mia, "step_up/code", &[("code", &code)])
        .await
        .expect_status(200);
    app.call(&mia, "org/settings", &[("org_id", &other.to_string())])
        .await
        .expect_status(200);
    app.call(&mia, "passkeys/start", &[("name", "Key")])
        .await
        .expect_status(200);
    let sessions = app
        .call(&mia, "sessions/list", &[])
        .await
        .expect_status(200)
        .json();
    let this = sessions
        .as_array()
        .and_then(|s| s.iter().find(|s| s["current"] == true))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        this["signed_in_with"],
        "Single sign-on (Corp), the provider's multi-factor authentication and authenticator app",
        "{sessions}"
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'user.session_stepped_up' AND org_id = {other}"
            )
        )
        .await,
        1
    );
}

/// "Security keys and passkeys only" used to be met by a session signed in with an app code
/// (a phishing proxy that captured the password and a code got in).
async fn security_keys_only_asks_an_app_code_session_for_a_touch(app: TestApp) {
    let ada = app.new_client();
    app.sign_up(&ada, "Ada", "ada@example.com", "Keys Org")
        .await
        .expect_status(200);
    let org_id = app.org_id(&ada).await;
    let mut key = new_key();
    register(&app, &ada, &mut key, "YubiKey")
        .await
        .expect_status(200);
    let (secret, _) = enable(&app, &ada).await;
    app.call(
        &ada,
        "org/two_factor/set",
        &[
            ("org_id", &org_id.to_string()),
            ("require", "on"),
            ("grace_days", "0"),
            ("methods", "security_keys"),
        ],
    )
    .await
    .expect_status(200);

    // Signed in again with the password and an app code, as a phishing proxy would.
    let proxied = app.new_client();
    app.sign_in(&proxied, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    let code = code_at(&secret, app.now());
    app.call(&proxied, "sign_in/second_factor", &[("code", &code)])
        .await
        .expect_status(200);
    let refused = app
        .call(&proxied, "org/settings", &[("org_id", &org_id.to_string())])
        .await
        .expect_error(403, "step_up_required", None);
    assert_eq!(refused.json()["security_key"], true, "{}", refused.body);
    let page = app
        .get(&proxied, "/members", &[("accept", "text/html")])
        .await;
    assert_eq!(page.status, 403, "{}", page.request);
    // No code will do, and the phisher cannot add a key of their own either.
    app.clock.advance(Duration::from_secs(30));
    let code = code_at(&secret, app.now());
    app.call(
        &proxied,
        "step_up/code",
        &[("code", &code), ("security_key", "true")],
    )
    .await
    .expect_error(422, "invalid_input", Some("code"));
    app.call(&proxied, "passkeys/start", &[("name", "Phisher's key")])
        .await
        .expect_error(403, "step_up_required", None);
    // A touch of her key steps the session up.
    let answer = touch(&app, &proxied, &mut key, "step_up/passkey_start").await;
    app.call(&proxied, "step_up/passkey", &[("assertion", &answer)])
        .await
        .expect_status(200);
    app.call(&proxied, "org/settings", &[("org_id", &org_id.to_string())])
        .await
        .expect_status(200);
    // Signing in with the key in the first place needs no step-up.
    let direct = sign_in_with_key(&app, "ada@example.com", &mut key).await;
    app.call(&direct, "org/settings", &[("org_id", &org_id.to_string())])
        .await
        .expect_status(200);
}

/// Two removals at once of a person's last two passkeys used to both succeed and leave 2FA
/// on with no factor.
async fn the_last_two_passkeys_removed_at_once_leave_one(app: TestApp) {
    let ada = app.new_client();
    app.sign_up(&ada, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    for round in 0..5 {
        let mut first = new_key();
        let mut second = new_key();
        register(&app, &ada, &mut first, &format!("First {round}"))
            .await
            .expect_status(200);
        register(&app, &ada, &mut second, &format!("Second {round}"))
            .await
            .expect_status(200);
        let ids: Vec<String> = app
            .call(&ada, "two_factor/status", &[])
            .await
            .expect_status(200)
            .json()["passkeys"]
            .as_array()
            .expect("passkeys")
            .iter()
            .map(|p| p["id"].to_string())
            .collect();
        assert_eq!(ids.len(), 2, "round {round}");
        let remove = |id: String| {
            let app = &app;
            let ada = &ada;
            async move {
                app.call(
                    ada,
                    "passkeys/remove",
                    &[("id", &id), ("password", PASSWORD)],
                )
                .await
            }
        };
        let (a, b) = tokio::join!(remove(ids[0].clone()), remove(ids[1].clone()));
        let statuses = [a.status, b.status];
        assert!(
            statuses.contains(&200) && statuses.contains(&422),
            "round {round}: one removal goes, the other is asked for a touch of the last key:\n{} -> {} {}\n{} -> {} {}",
            a.request, a.status, a.body, b.request, b.status, b.body
        );
        let status = app
            .call(&ada, "two_factor/status", &[])
            .await
            .expect_status(200)
            .json();
        assert_eq!(status["enabled"], true, "round {round}: {status}");
        assert_eq!(
            status["passkeys"].as_array().map(Vec::len),
            Some(1),
            "round {round}: {status}"
        );
        // Leave one key registered for the next round's pair: remove the one left with its
        // touch, turning 2FA off.
        let left = status["passkeys"][0]["id"].to_string();
        let left_key = if status["passkeys"][0]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("First"))
        {
            &mut first
        } else {
            &mut second
        };
        let answer = touch(&app, &ada, left_key, "passkeys/verify_start").await;
        app.call(
            &ada,
            "passkeys/remove",
            &[
                ("id", &left),
                ("password", PASSWORD),
                ("assertion", &answer),
            ],
        )
        .await
        .expect_status(200);
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM users WHERE two_factor_at IS NOT NULL"
            )
            .await,
            0,
            "round {round}"
        );
    }
}

/// Saving the SSO connection and changing or lifting Require two-factor authentication had
/// no Confirm access.
async fn changing_an_organizations_security_asks_for_confirm_access(app: TestApp) {
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    let (secret, _) = enable(&app, &owner).await;
    app.verify_domain(&owner, org_id, "corp.example").await;
    let org = org_id.to_string();
    app.clock.advance(Duration::from_secs(11 * 60));
    let sso_form = [
        ("org_id", org.as_str()),
        ("issuer", "https://login.example.com"),
        ("client_id", "gatehouse"),
        ("client_secret", "s"),
        ("allowed_domains", "corp.example"),
        ("default_role", "user"),
    ];
    app.call(&owner, "org/sso/save", &sso_form)
        .await
        .expect_error(403, "reauthentication_required", None);
    let policy_form = [
        ("org_id", org.as_str()),
        ("require", "on"),
        ("grace_days", "0"),
    ];
    app.call(&owner, "org/two_factor/set", &policy_form)
        .await
        .expect_error(403, "reauthentication_required", None);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sso_connections").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM organizations WHERE require_two_factor <> 0"
        )
        .await,
        0
    );
    let code = code_at(&secret, app.now());
    app.call(
        &owner,
        "auth/confirm_access",
        &[("password", PASSWORD), ("code", &code)],
    )
    .await
    .expect_status(200);
    app.call(&owner, "org/sso/save", &sso_form)
        .await
        .expect_status(200);
    app.call(&owner, "org/two_factor/set", &policy_form)
        .await
        .expect_status(200);
    // Lifting it, minutes later, asks again.
    app.clock.advance(Duration::from_secs(11 * 60));
    app.call(&owner, "org/two_factor/set", &[("org_id", org.as_str())])
        .await
        .expect_error(403, "reauthentication_required", None);
}

/// Password and passkey sign-ins used to leave nothing in the organization's audit log.
async fn sign_ins_are_audited_in_each_organization_and_sessions_say_how(app: TestApp) {
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    let (_, second_org) = app.new_org("x@second.example", "Second").await;
    sqlx::query(&format!(
        "INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
         SELECT {second_org}, id, 'user', 0, 'Owner' FROM users WHERE email = 'owner@corp.example'"
    ))
    .execute(&app.state.db.pool)
    .await
    .expect("a second membership");
    let in_org = |action: &'static str, org: i64| {
        let app = &app;
        async move {
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND org_id = {org}"
            ))
            .await
        }
    };
    let again = app.new_client();
    app.sign_in(&again, "owner@corp.example", PASSWORD)
        .await
        .expect_status(200);
    assert_eq!(in_org("user.sign_in", org_id).await, 1);
    assert_eq!(in_org("user.sign_in", second_org).await, 1);
    // With a passkey as the second step.
    let mut key = new_key();
    register(&app, &owner, &mut key, "YubiKey")
        .await
        .expect_status(200);
    let third = sign_in_with_key(&app, "owner@corp.example", &mut key).await;
    assert_eq!(in_org("user.sign_in_second_factor", org_id).await, 1);
    let sessions = app
        .call(&third, "sessions/list", &[])
        .await
        .expect_status(200)
        .json();
    let methods: Vec<&str> = sessions
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["signed_in_with"].as_str())
        .collect();
    assert!(
        methods.contains(&"Password and security key or passkey") && methods.contains(&"Password"),
        "{sessions}"
    );
}
