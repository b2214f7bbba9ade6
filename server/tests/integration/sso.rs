//! Single sign-on against a real OpenID Provider (`oidc-provider` in Node.js, started per test):
//! discovery, the code flow with PKCE, the token endpoint, the key set and its rotation. The
//! test plays the browser through the provider's own sign-in page.

use crate::common;

use common::oidc::{arrive, through_provider, Provider, CLIENT_ID, CLIENT_SECRET};
use common::{Resp, TestApp, PASSWORD};
use serde_json::{json, Value};

on_both_databases!(
    connecting_checks_every_field,
    a_new_person_joins_just_in_time_and_an_existing_account_links_only_with_its_password,
    the_provider_answer_is_validated,
    a_round_trip_is_good_once_and_only_in_the_browser_that_started_it,
    test_connection_reports_the_failed_step_and_gates_require,
    required_sso_blocks_password_sessions_but_not_owners_or_api_keys,
    the_second_step_stays_unless_the_provider_mfa_counts,
    a_key_rotation_at_the_provider_is_picked_up,
    a_provisioned_person_signs_in_through_the_provider_at_once,
);

fn accounts() -> Value {
    json!({
        "owner": {"email": "owner@corp.example", "email_verified": true, "name": "Olive Owner"},
        "alice": {"email": "alice@corp.example", "email_verified": true, "name": "Alice Adams"},
        "bob": {"email": "bob@corp.example", "email_verified": true, "name": "Bob Baker"},
        "mfa": {"email": "mfa@corp.example", "email_verified": true, "name": "Mia Factor", "amr": ["pwd", "mfa"]},
        "unverified": {"email": "unverified@corp.example", "email_verified": false},
        "outsider": {"email": "eve@elsewhere.example", "email_verified": true},
        "wrong-audience": {"email": "aud@corp.example", "email_verified": true},
        "expired": {"email": "late@corp.example", "email_verified": true},
        "bad-nonce": {"email": "nonce@corp.example", "email_verified": true},
    })
}

fn faults() -> Value {
    json!({
        "wrong-audience": {"aud": "someone-else"},
        "expired": {"expired": true},
        "bad-nonce": {"nonce": "not-the-one-sent"},
    })
}

/// An Owner (owner@corp.example, password account) and a provider that knows Gatehouse.
async fn setup(app: &TestApp) -> (reqwest::Client, i64, Provider) {
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    app.verify_domain(&owner, org_id, "corp.example").await;
    let provider = Provider::start(app, accounts(), faults()).await;
    connect(app, &owner, org_id, &provider.issuer, CLIENT_SECRET, "")
        .await
        .expect_status(200);
    (owner, org_id, provider)
}

async fn connect(
    app: &TestApp,
    owner: &reqwest::Client,
    org_id: i64,
    issuer: &str,
    secret: &str,
    provider_mfa: &str,
) -> Resp {
    common::oidc::connect(
        app,
        owner,
        org_id,
        issuer,
        secret,
        "corp.example",
        provider_mfa,
    )
    .await
}

async fn save(
    app: &TestApp,
    owner: &reqwest::Client,
    org_id: i64,
    form: Vec<(&'static str, &'static str)>,
) -> Resp {
    let org = org_id.to_string();
    let mut all = vec![("org_id", org.as_str())];
    all.extend(form);
    app.call(owner, "org/sso/save", &all).await
}

async fn require(app: &TestApp, owner: &reqwest::Client, org_id: i64, required: bool) -> Resp {
    let org = org_id.to_string();
    let required = if required { "true" } else { "false" };
    app.call(
        owner,
        "org/sso/required",
        &[("org_id", &org), ("required", required)],
    )
    .await
}

async fn settings(app: &TestApp, owner: &reqwest::Client, org_id: i64) -> Value {
    app.call(owner, "org/sso", &[("org_id", &org_id.to_string())])
        .await
        .expect_status(200)
        .json()
}

/// Where a server function's answer sends the browser (`leptos_axum::redirect`).
fn redirect_of(resp: &Resp) -> Option<String> {
    resp.header("location")
        .filter(|l| !l.is_empty())
        .or_else(|| resp.header("serverfnredirect"))
}

/// Where a Gatehouse redirect goes.
/// Signs `login` in through the provider in a fresh browser; answers the browser and the
/// callback's response.
async fn sso_sign_in(app: &TestApp, login: &str) -> (reqwest::Client, Resp) {
    let browser = app.new_client();
    let email = accounts()[login]["email"]
        .as_str()
        .expect("account")
        .to_string();
    let callback =
        through_provider(app, &browser, &format!("/sso/start?email={email}"), login).await;
    let resp = arrive(&browser, &callback).await;
    (browser, resp)
}

async fn audit_actions(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE action = '{action}'"
    ))
    .await
}

async fn connecting_checks_every_field(app: TestApp) {
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    let org = org_id.to_string();
    let provider = Provider::start(&app, accounts(), faults()).await;
    let base = |issuer: &'static str| {
        vec![
            ("issuer", issuer),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("allowed_domains", "corp.example"),
            ("default_role", "user"),
        ]
    };
    let call = |form: Vec<(&'static str, &'static str)>| save(&app, &owner, org_id, form);
    call(base("not a url"))
        .await
        .expect_error(422, "invalid_input", Some("issuer"));
    // Discovery would go there: internal networks are refused like webhook URLs.
    call(base("http://10.1.2.3/realms/main"))
        .await
        .expect_error(422, "invalid_input", Some("issuer"));
    let mut no_role = base("https://login.example.com");
    no_role[4] = ("default_role", "owner");
    call(no_role)
        .await
        .expect_error(422, "invalid_input", Some("default_role"));
    let mut bad_domain = base("https://login.example.com");
    bad_domain[3] = ("allowed_domains", "not a domain");
    call(bad_domain)
        .await
        .expect_error(422, "invalid_input", Some("allowed_domains"));
    let mut no_secret = base("https://login.example.com");
    no_secret[2] = ("client_secret", "");
    call(no_secret)
        .await
        .expect_error(422, "invalid_input", Some("client_secret"));
    // A domain the organization has not verified speaks for nobody.
    connect(&app, &owner, org_id, &provider.issuer, CLIENT_SECRET, "")
        .await
        .expect_error(422, "invalid_input", Some("allowed_domains"));
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_connections").await, 0);
    app.verify_domain(&owner, org_id, "corp.example").await;

    // A Team Leader or Admin cannot see or change it; another organization's id is 404.
    let (admin, _) = app
        .add_member(&owner, org_id, "admin@corp.example", "admin")
        .await;
    app.call(&admin, "org/sso", &[("org_id", &org)])
        .await
        .expect_error(403, "forbidden", None);
    let (other, other_org) = app.new_org("x@other.example", "Other").await;
    app.call(&other, "org/sso", &[("org_id", &org)])
        .await
        .expect_error(404, "not_found", None);

    connect(&app, &owner, org_id, &provider.issuer, CLIENT_SECRET, "")
        .await
        .expect_status(200);
    let shown = settings(&app, &owner, org_id).await;
    assert_eq!(
        shown["connection"]["issuer"],
        provider.issuer.as_str(),
        "{shown}"
    );
    assert!(
        !shown.to_string().contains(CLIENT_SECRET),
        "the secret is never sent back: {shown}"
    );
    // Each connection has a callback of its own (see the mix-up test).
    assert!(
        shown["redirect_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/sso/callback/{org_id}"))),
        "{shown}"
    );
    // The test opens Gatehouse at 127.0.0.1, and the provider sends people to localhost:
    // the panel says why Test connection would fail from here.
    assert!(
        shown["opened_elsewhere"]
            .as_str()
            .is_some_and(|w| w.contains("You opened Gatehouse at 127.0.0.1:")),
        "{shown}"
    );
    // Stored encrypted.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM sso_connections WHERE client_secret LIKE '%{CLIENT_SECRET}%'"
        ))
        .await,
        0
    );
    // An empty secret keeps the stored one.
    connect(&app, &owner, org_id, &provider.issuer, "", "")
        .await
        .expect_status(200);
    // Another organization cannot list a domain it has not verified (and cannot block the
    // one that did).
    let other_form = [
        ("org_id", other_org.to_string()),
        ("issuer", provider.issuer.clone()),
        ("client_id", CLIENT_ID.to_string()),
        ("client_secret", "x".to_string()),
        ("allowed_domains", "corp.example".to_string()),
        ("default_role", "user".to_string()),
    ];
    let other_form: Vec<(&str, &str)> = other_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call(&other, "org/sso/save", &other_form)
        .await
        .expect_error(422, "invalid_input", Some("allowed_domains"));
    assert_eq!(audit_actions(&app, "org.sso_updated").await, 2);
    assert_eq!(
        app.call(&app.new_client(), "sso/offered", &[]).await.json(),
        json!(true)
    );
}

async fn a_new_person_joins_just_in_time_and_an_existing_account_links_only_with_its_password(
    app: TestApp,
) {
    let (owner, org_id, _provider) = setup(&app).await;
    // Alice has no account: made just in time, a User of Corp, signed in.
    let (alice, resp) = sso_sign_in(&app, "alice").await;
    resp.expect_redirect("/");
    let session = app.session(&alice).await;
    assert_eq!(session["email"], "alice@corp.example", "{session}");
    assert_eq!(session["name"], "Alice Adams", "{session}");
    assert_eq!(session["current_org"]["id"], org_id, "{session}");
    assert_eq!(session["current_org"]["role"], "user", "{session}");
    assert_eq!(audit_actions(&app, "member.sso_joined").await, 1);
    // No password signs in to an account made through SSO.
    app.sign_in(&app.new_client(), "alice@corp.example", "!sso")
        .await
        .expect_error(401, "invalid_credentials", None);
    // Again: the same account, no second one.
    let (_, again) = sso_sign_in(&app, "alice").await;
    again.expect_redirect("/");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email_normalized = 'alice@corp.example'")
            .await,
        1
    );

    // Bob has a password account already: the email alone links nothing.
    let bob_password = app.new_client();
    app.sign_up(&bob_password, "Bob", "bob@corp.example", "Bob's org")
        .await
        .expect_status(200);
    let (bob, resp) = sso_sign_in(&app, "bob").await;
    resp.expect_redirect("/signin?sso_error=link");
    assert!(
        resp.session_cookie().is_none(),
        "no session before the password"
    );
    assert_eq!(app.session(&bob).await, Value::Null);
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_identities").await, 1);
    // Someone else's password sign-in in that browser does not take Bob's link.
    app.sign_in(&bob, "owner@corp.example", PASSWORD)
        .await
        .expect_status(200);
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_identities").await, 1);

    // Bob's own password sign-in links nothing either: it leads to a page that names the
    // organization, the provider and the identity, and asks.
    let (bob, resp) = sso_sign_in(&app, "bob").await;
    resp.expect_redirect("/signin?sso_error=link");
    let signed_in = app
        .sign_in(&bob, "bob@corp.example", PASSWORD)
        .await
        .expect_status(200);
    assert_eq!(
        redirect_of(&signed_in).as_deref(),
        Some("/sso/link"),
        "{:?}",
        signed_in.headers
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_identities").await, 1);
    let asked = app.get(&bob, "/sso/link", &[]).await.expect_status(200);
    assert!(
        asked.body.contains("Corp")
            && asked.body.contains("bob@corp.example")
            && asked.body.contains("127.0.0.1")
            && asked.body.contains("Don&#39;t link") | asked.body.contains("Don't link"),
        "{}",
        asked.body
    );
    let linked = bob
        .post(app.url("/sso/link"))
        .form(&[("decision", "link")])
        .send()
        .await
        .expect("POST /sso/link");
    assert_eq!(linked.status(), 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_identities").await, 2);
    assert_eq!(audit_actions(&app, "user.sso_linked").await, 1);
    // From now on the provider signs Bob in (a member of Corp? No: linking gives no
    // membership; he joins Corp only by invitation).
    let (_, resp) = sso_sign_in(&app, "bob").await;
    resp.expect_redirect("/signin?sso_error=not_member");
    app.add_existing_member(&owner, org_id, &bob_password, "bob@corp.example", "user")
        .await;
    let (bob_sso, resp) = sso_sign_in(&app, "bob").await;
    resp.expect_redirect("/");
    assert_eq!(app.session(&bob_sso).await["email"], "bob@corp.example");
    assert_eq!(audit_actions(&app, "user.sso_sign_in").await, 3);
}

async fn the_provider_answer_is_validated(app: TestApp) {
    let (_owner, _org_id, _provider) = setup(&app).await;
    for (login, error, step) in [
        ("wrong-audience", "failed", "id_token"),
        ("expired", "failed", "id_token"),
        ("bad-nonce", "failed", "id_token"),
        ("unverified", "failed", "email"),
    ] {
        let (browser, resp) = sso_sign_in(&app, login).await;
        resp.expect_redirect(&format!("/signin?sso_error={error}"));
        assert_eq!(app.session(&browser).await, Value::Null, "{login}");
        let logged = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'user.sso_sign_in_failed'
                 AND details LIKE '%\"step\":\"{step}\"%'"
            ))
            .await;
        assert!(logged >= 1, "{login}: no failure audited at step {step}");
    }
    // A verified email outside the allowed domains.
    let browser = app.new_client();
    let callback = through_provider(
        &app,
        &browser,
        "/sso/start?email=alice@corp.example",
        "outsider",
    )
    .await;
    arrive(&browser, &callback)
        .await
        .expect_redirect("/signin?sso_error=domain");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email_normalized LIKE '%elsewhere%'")
            .await,
        0
    );
    // An email no organization here uses SSO for.
    let resp = app
        .get(
            &app.new_client(),
            "/sso/start?email=someone@nowhere.example",
            &[],
        )
        .await;
    resp.expect_redirect("/signin?sso_error=no_provider");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}

async fn a_round_trip_is_good_once_and_only_in_the_browser_that_started_it(app: TestApp) {
    let (_owner, _org_id, _provider) = setup(&app).await;
    let browser = app.new_client();
    let callback = through_provider(
        &app,
        &browser,
        "/sso/start?email=alice@corp.example",
        "alice",
    )
    .await;
    // Another browser (a link planted by someone else): refused, and it uses nothing up.
    let other = app.new_client();
    arrive(&other, &callback)
        .await
        .expect_redirect("/signin?sso_error=expired");
    assert_eq!(app.session(&other).await, Value::Null);
    arrive(&browser, &callback).await.expect_redirect("/");
    // Replayed: the round trip is gone.
    let replay = app.new_client();
    arrive(&browser, &callback)
        .await
        .expect_redirect("/signin?sso_error=expired");
    arrive(&replay, &callback)
        .await
        .expect_redirect("/signin?sso_error=expired");
    // A state that was never issued.
    let resp = app
        .get(&browser, "/sso/callback?code=abc&state=forged", &[])
        .await;
    resp.expect_redirect("/signin?sso_error=expired");
}

async fn test_connection_reports_the_failed_step_and_gates_require(app: TestApp) {
    let (owner, org_id, provider) = setup(&app).await;
    require(&app, &owner, org_id, true)
        .await
        .expect_error(409, "conflict", Some("required"));
    // A wrong client secret: the provider refuses the client at the token endpoint.
    connect(&app, &owner, org_id, &provider.issuer, "wrong-secret", "")
        .await
        .expect_status(200);
    let callback =
        through_provider(&app, &owner, &format!("/sso/test?org={org_id}"), "owner").await;
    arrive(&owner, &callback).await.expect_redirect("/settings");
    let shown = settings(&app, &owner, org_id).await;
    let error = shown["connection"]["test_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("refused the client id or secret"),
        "client authentication named: {shown}"
    );
    assert_eq!(shown["connection"]["tested"], Value::Null);
    // Nothing was signed in or made by a test.
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_identities").await, 0);

    connect(&app, &owner, org_id, &provider.issuer, CLIENT_SECRET, "")
        .await
        .expect_status(200);
    let callback =
        through_provider(&app, &owner, &format!("/sso/test?org={org_id}"), "owner").await;
    arrive(&owner, &callback).await.expect_redirect("/settings");
    let shown = settings(&app, &owner, org_id).await;
    assert_eq!(shown["connection"]["test_error"], Value::Null, "{shown}");
    assert!(shown["connection"]["tested"].is_string(), "{shown}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.sso_tested' AND details LIKE '%\"ok\":true%'"
        )
        .await,
        1
    );
    require(&app, &owner, org_id, true).await.expect_status(200);
    // Pointing it at another client needs a new test, and stops the requirement.
    connect(&app, &owner, org_id, &provider.issuer, "another-secret", "")
        .await
        .expect_status(200);
    let shown = settings(&app, &owner, org_id).await;
    assert_eq!(shown["connection"]["required"], false, "{shown}");
    assert_eq!(shown["connection"]["tested"], Value::Null, "{shown}");
    // Only the Owner may test.
    let (admin, _) = app
        .add_member(&owner, org_id, "admin@corp.example", "admin")
        .await;
    let resp = admin
        .post(app.url("/sso/test"))
        .form(&[("org", org_id.to_string())])
        .send()
        .await
        .expect("POST /sso/test");
    assert_eq!(resp.status(), 403, "an Admin's Test connection");
}

async fn required_sso_blocks_password_sessions_but_not_owners_or_api_keys(app: TestApp) {
    let (owner, org_id, _provider) = setup(&app).await;
    let org = org_id.to_string();
    // Alice joins through SSO; Carol is a password member with an API key.
    let (alice, _) = sso_sign_in(&app, "alice").await;
    let (carol, _) = app
        .add_member(&owner, org_id, "carol@corp.example", "admin")
        .await;
    let key = app.create_key(&carol, org_id, "members:read", "30").await;
    let callback =
        through_provider(&app, &owner, &format!("/sso/test?org={org_id}"), "owner").await;
    arrive(&owner, &callback).await;
    require(&app, &owner, org_id, true).await.expect_status(200);

    // A password session of a member: refused, and pages send the browser to the provider.
    app.call(&carol, "org/settings", &[("org_id", &org)])
        .await
        .expect_error(403, "sso_required", None);
    let page = app.get(&carol, "/members", &[]).await;
    page.expect_redirect(&format!("/sso/start?org={org_id}&next=%2Fmembers"));
    // The API key of a member still works.
    app.api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(200);
    // The SSO session passes.
    app.call(&alice, "org/settings", &[("org_id", &org)])
        .await
        .expect_status(200);
    // The Owner's password path stays, audited at sign-in.
    let owner_again = app.new_client();
    app.sign_in(&owner_again, "owner@corp.example", PASSWORD)
        .await
        .expect_status(200);
    app.call(&owner_again, "org/settings", &[("org_id", &org)])
        .await
        .expect_status(200);
    assert_eq!(audit_actions(&app, "user.sso_break_glass").await, 1);
    // Stopping the requirement lets Carol's password session in again.
    require(&app, &owner, org_id, false)
        .await
        .expect_status(200);
    app.call(&carol, "org/settings", &[("org_id", &org)])
        .await
        .expect_status(200);
    assert_eq!(audit_actions(&app, "org.sso_required_set").await, 2);
}

async fn the_second_step_stays_unless_the_provider_mfa_counts(app: TestApp) {
    let (owner, org_id, provider) = setup(&app).await;
    // Mia joins through SSO and turns on Gatehouse's 2FA.
    let (mia, _) = sso_sign_in(&app, "mfa").await;
    common::two_factor::enable(&app, &mia).await;
    // The provider says it checked MFA, but the organization has not said that counts.
    let (_, resp) = sso_sign_in(&app, "mfa").await;
    resp.expect_redirect("/signin/two-factor");
    assert!(resp.session_cookie().is_none());
    connect(&app, &owner, org_id, &provider.issuer, "", "on")
        .await
        .expect_status(200);
    let (mia_again, resp) = sso_sign_in(&app, "mfa").await;
    resp.expect_redirect("/");
    let session = app.session(&mia_again).await;
    assert_eq!(session["email"], "mfa@corp.example", "{session}");
    // Alice's provider sign-in was a password only: no MFA to count.
    let (alice, _) = sso_sign_in(&app, "alice").await;
    common::two_factor::enable(&app, &alice).await;
    let (_, resp) = sso_sign_in(&app, "alice").await;
    resp.expect_redirect("/signin/two-factor");
}

async fn a_key_rotation_at_the_provider_is_picked_up(app: TestApp) {
    let (_owner, _org_id, mut provider) = setup(&app).await;
    let (_, resp) = sso_sign_in(&app, "alice").await;
    resp.expect_redirect("/");
    // New signing key; Gatehouse holds the old key set in its cache.
    provider.rotate_keys().await;
    let (alice, resp) = sso_sign_in(&app, "alice").await;
    resp.expect_redirect("/");
    assert_eq!(app.session(&alice).await["email"], "alice@corp.example");
}

/// Every start stores a round trip: starts are counted per client address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_are_limited_per_client_address() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |c| c.signin_ip_limit = 2)
        .await
        .expect("sqlite app");
    let (_owner, _org_id, _provider) = setup(&app).await;
    let browser = app.new_client();
    let start = || {
        browser
            .post(app.url("/sso/start"))
            .form(&[("email", "alice@corp.example"), ("next", "/members")])
            .send()
    };
    // The form's answer is a page that moves on to the provider (the pages' `form-action
    // 'self'` would stop a redirect), with the address escaped for HTML.
    for _ in 0..2 {
        let page = Resp::from("POST /sso/start".into(), start().await).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body
                .contains("http-equiv=\"refresh\" content=\"0;url=http://127.0.0.1:")
                && page.body.contains("&amp;state=")
                && !page.body.contains("&state="),
            "{}",
            page.body
        );
        assert!(page
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("gatehouse_sso=")));
    }
    let resp = Resp::from("POST /sso/start".into(), start().await).await;
    resp.expect_redirect("/signin?sso_error=rate_limited");
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_logins").await, 2);
}

/// SCIM as the Owner's provider would send it.
async fn scim(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> Resp {
    let bearer = format!("Bearer {token}");
    app.api_raw(
        method,
        &format!("/scim/v2{path}"),
        &[
            ("authorization", &bearer),
            ("content-type", "application/scim+json"),
        ],
        &body.to_string(),
    )
    .await
}

/// An account made by provisioning has no password: its first sign-in through this
/// organization's provider links it (and nothing else can), and a suspension ends it.
async fn a_provisioned_person_signs_in_through_the_provider_at_once(app: TestApp) {
    let (owner, org_id, _provider) = setup(&app).await;
    let made = app
        .call(
            &owner,
            "org/provisioning/token",
            &[("org_id", &org_id.to_string()), ("name", "Okta")],
        )
        .await
        .expect_status(200)
        .json();
    let token = made["token"].as_str().unwrap_or_default().to_string();
    let alice = scim(
        &app,
        &token,
        "POST",
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
               "userName": "alice@corp.example", "displayName": "Alice Adams", "roles": ["admin"]}),
    )
    .await
    .expect_status(201)
    .json();
    let (browser, resp) = sso_sign_in(&app, "alice").await;
    resp.expect_redirect("/");
    let session = app.session(&browser).await;
    assert_eq!(session["current_org"]["id"], org_id, "{session}");
    assert_eq!(session["current_org"]["role"], "admin", "{session}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sso_identities WHERE user_id IN (SELECT id FROM users WHERE email_normalized = 'alice@corp.example')")
            .await,
        1
    );
    // Suspended by the provider: the session loses the organization, and a new sign-in
    // through the provider is refused.
    let id = alice["id"].as_str().unwrap_or_default();
    scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await
    .expect_status(200);
    let session = app.session(&browser).await;
    assert!(
        session["orgs"].as_array().is_some_and(|o| o.is_empty()),
        "{session}"
    );
    let (_, resp) = sso_sign_in(&app, "alice").await;
    resp.expect_redirect("/signin?sso_error=not_member");
}
