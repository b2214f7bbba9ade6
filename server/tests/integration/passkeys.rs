//! Security keys and passkeys against the real server, with webauthn-rs's own software
//! authenticator (`SoftPasskey`) answering the ceremonies as a browser and a key would: real
//! keys, real signatures, real counters. Registration, the passkey as the only second factor,
//! sign-in, a replayed answer, a counter going back, rename and remove with the 2FA rules.

use crate::common;

use common::two_factor::enable;
use common::webauthn::{new_key, options_of, origin, register, sign_in_answer};
use common::{TestApp, PASSWORD};
use serde_json::Value;
use std::time::Duration;
use url::Url;
use webauthn_authenticator_rs::{softpasskey::SoftPasskey, WebauthnAuthenticator};
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

on_both_databases!(
    a_passkey_alone_is_two_factor_and_signs_in,
    a_replayed_answer_and_a_counter_going_back_are_refused,
    registration_checks_its_input_and_uses_each_ceremony_once,
    rename_and_remove_follow_the_two_factor_rules,
    an_owner_reset_removes_a_members_passkeys,
    security_keys_only_blocks_an_app_only_member_until_they_add_one,
);

async fn passkey_step(app: &TestApp, client: &reqwest::Client, answer: &str) -> common::Resp {
    app.call(client, "sign_in/passkey", &[("credential", answer)])
        .await
}

/// Ada, Owner of a new organization, with one passkey ("YubiKey") as her only second factor.
async fn ada_with_a_passkey(app: &TestApp) -> (reqwest::Client, SoftPasskey, Value) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    let mut key = new_key();
    let codes = register(app, &client, &mut key, "YubiKey")
        .await
        .expect_status(200)
        .json();
    (client, key, codes)
}

async fn passkeys(app: &TestApp, client: &reqwest::Client) -> Vec<Value> {
    let status = app
        .call(client, "two_factor/status", &[])
        .await
        .expect_status(200)
        .json();
    status["passkeys"]
        .as_array()
        .unwrap_or_else(|| panic!("no passkeys in {status}"))
        .clone()
}

async fn a_passkey_alone_is_two_factor_and_signs_in(app: TestApp) {
    let (client, mut key, codes) = ada_with_a_passkey(&app).await;
    assert_eq!(
        codes["codes"].as_array().map(Vec::len),
        Some(10),
        "the first second factor comes with recovery codes: {codes}"
    );
    let status = app
        .call(&client, "two_factor/status", &[])
        .await
        .expect_status(200)
        .json();
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(status["app"], false, "{status}");
    assert_eq!(status["passkeys"][0]["name"], "YubiKey", "{status}");
    assert_eq!(status["passkeys"][0]["last_used"], Value::Null, "{status}");
    assert_eq!(app.session(&client).await["two_factor_enabled"], true);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM memberships WHERE two_factor_at IS NOT NULL")
            .await,
        1,
        "the membership counts as compliant"
    );

    app.call(&client, "sign_out", &[]).await.expect_status(200);
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    assert!(
        app.session(&client).await.is_null(),
        "the password alone does not sign in"
    );
    let methods = app
        .call(&client, "sign_in/methods", &[])
        .await
        .expect_status(200)
        .json();
    assert_eq!(methods["passkey"], true, "{methods}");
    assert_eq!(methods["app"], false, "{methods}");
    let answer = sign_in_answer(&app, &client, &mut key).await;
    let next = passkey_step(&app, &client, &answer)
        .await
        .expect_status(200)
        .json();
    assert_eq!(next, "/");
    assert_eq!(app.session(&client).await["email"], "ada@example.com");
    assert!(passkeys(&app, &client).await[0]["last_used"].is_string());
    for action in [
        "user.two_factor_enabled",
        "user.passkey_added",
        "user.sign_in_second_factor",
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND org_id IS NULL"
            ))
            .await,
            1,
            "{action} audited once"
        );
    }

    // A six-digit code is not a factor she has; a recovery code is.
    app.call(&client, "sign_out", &[]).await.expect_status(200);
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    app.call(&client, "sign_in/second_factor", &[("code", "123456")])
        .await
        .expect_error(422, "invalid_input", Some("code"));
    let recovery = codes["codes"][0].as_str().expect("a code");
    app.call(&client, "sign_in/second_factor", &[("code", recovery)])
        .await
        .expect_status(200);
    assert_eq!(app.session(&client).await["email"], "ada@example.com");
}

async fn a_replayed_answer_and_a_counter_going_back_are_refused(app: TestApp) {
    let (client, mut key, _) = ada_with_a_passkey(&app).await;
    app.call(&client, "sign_out", &[]).await.expect_status(200);
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    let answer = sign_in_answer(&app, &client, &mut key).await;
    passkey_step(&app, &client, &answer)
        .await
        .expect_status(200);

    // The same answer again, in a new sign-in: its ceremony is gone...
    app.call(&client, "sign_out", &[]).await.expect_status(200);
    app.sign_in(&client, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    passkey_step(&app, &client, &answer)
        .await
        .expect_error(422, "invalid_input", Some("passkey"));
    // ...and against a new challenge it does not verify.
    app.call(&client, "sign_in/passkey_start", &[])
        .await
        .expect_status(200);
    let refused = passkey_step(&app, &client, &answer)
        .await
        .expect_error(422, "invalid_input", Some("passkey"))
        .json();
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("not accepted")),
        "{refused}"
    );
    assert!(app.session(&client).await.is_null(), "still not signed in");

    // A copy of the key: the server has seen a higher counter than this key now signs.
    let stored: (String,) = sqlx::query_as("SELECT credential FROM passkeys")
        .fetch_one(&app.state.db.pool)
        .await
        .expect("stored passkey");
    let mut credential: Value = serde_json::from_str(&stored.0).expect("json");
    set_counter(&mut credential, 1_000);
    sqlx::query("UPDATE passkeys SET credential = $1")
        .bind(credential.to_string())
        .execute(&app.state.db.pool)
        .await
        .expect("update");
    let answer = sign_in_answer(&app, &client, &mut key).await;
    let refused = passkey_step(&app, &client, &answer)
        .await
        .expect_error(422, "invalid_input", Some("passkey"))
        .json();
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("counter went back")),
        "{refused}"
    );
    assert!(app.session(&client).await.is_null(), "refused");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'user.passkey_counter_regressed' AND org_id IS NOT NULL"
        )
        .await,
        1,
        "audited in her organization"
    );
    // Failures count towards the lockout, like wrong codes.
    assert_eq!(
        app.count("SELECT second_factor_failures FROM users WHERE email = 'ada@example.com'")
            .await,
        2
    );
}

/// Sets the signature counter wherever webauthn-rs keeps it in its stored credential.
fn set_counter(value: &mut Value, counter: u32) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "counter" {
                    *v = Value::from(counter);
                } else {
                    set_counter(v, counter);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| set_counter(v, counter)),
        _ => {}
    }
}

async fn registration_checks_its_input_and_uses_each_ceremony_once(app: TestApp) {
    let client = app.new_client();
    app.sign_up(&client, "Ada", "ada@example.com", "Org")
        .await
        .expect_status(200);
    app.call(&client, "passkeys/start", &[("name", "  ")])
        .await
        .expect_error(422, "invalid_input", Some("name"));
    let long = "k".repeat(61);
    app.call(&client, "passkeys/start", &[("name", &long)])
        .await
        .expect_error(422, "invalid_input", Some("name"));
    app.call(&client, "passkeys/start", &[("name", "Key")])
        .await
        .expect_status(200);
    app.call(
        &client,
        "passkeys/finish",
        &[("name", "Key"), ("credential", "{not json")],
    )
    .await
    .expect_error(422, "invalid_input", Some("passkey"));

    // One answer per ceremony.
    let mut key = new_key();
    let options: CreationChallengeResponse = options_of(
        app.call(&client, "passkeys/start", &[("name", "Key")])
            .await
            .expect_status(200),
    );
    let answer = key
        .do_registration(origin(&app), options)
        .expect("registration");
    let answer = serde_json::to_string(&answer).expect("json");
    let form = [("name", "Key"), ("credential", answer.as_str())];
    app.call(&client, "passkeys/finish", &form)
        .await
        .expect_status(200);
    app.call(&client, "passkeys/finish", &form)
        .await
        .expect_error(422, "invalid_input", Some("passkey"));
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);

    // An answer made for another site's origin does not register.
    let options: CreationChallengeResponse = options_of(
        app.call(&client, "passkeys/start", &[("name", "Phished")])
            .await
            .expect_status(200),
    );
    let mut other = new_key();
    let mut options = options;
    options.public_key.rp.id = "evil.example".into();
    let answer = other
        .do_registration(Url::parse("https://evil.example").expect("url"), options)
        .expect("registration at the other site");
    app.call(
        &client,
        "passkeys/finish",
        &[
            ("name", "Phished"),
            ("credential", &serde_json::to_string(&answer).expect("json")),
        ],
    )
    .await
    .expect_error(422, "invalid_input", Some("passkey"));
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);

    // A sensitive action: an old session confirms access first.
    app.clock.advance(Duration::from_secs(3600));
    app.call(&client, "passkeys/start", &[("name", "Key 2")])
        .await
        .expect_error(403, "reauthentication_required", None);
    // Another person cannot start or finish anything without a session.
    app.call(&app.new_client(), "passkeys/start", &[("name", "Key")])
        .await
        .expect_error(401, "unauthenticated", None);
}

async fn rename_and_remove_follow_the_two_factor_rules(app: TestApp) {
    let (client, mut key, _) = ada_with_a_passkey(&app).await;
    let mut backup = new_key();
    let codes = register(&app, &client, &mut backup, "Backup")
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        codes,
        Value::Null,
        "recovery codes only with the first factor"
    );
    let list = passkeys(&app, &client).await;
    let (first, second) = (list[0]["id"].to_string(), list[1]["id"].to_string());

    app.call(
        &client,
        "passkeys/rename",
        &[("id", &first), ("name", "Blue YubiKey")],
    )
    .await
    .expect_status(200);
    app.call(&client, "passkeys/rename", &[("id", &first), ("name", "")])
        .await
        .expect_error(422, "invalid_input", Some("name"));
    assert_eq!(passkeys(&app, &client).await[0]["name"], "Blue YubiKey");

    // Another person's passkey is not found, for renaming or removing.
    let bob = app.new_client();
    app.sign_up(&bob, "Bob", "bob@example.com", "Bob's")
        .await
        .expect_status(200);
    app.call(&bob, "passkeys/rename", &[("id", &first), ("name", "Mine")])
        .await
        .expect_error(404, "not_found", None);
    app.call(
        &bob,
        "passkeys/remove",
        &[("id", &first), ("password", PASSWORD)],
    )
    .await
    .expect_error(404, "not_found", None);

    // A second session of Ada's, signed in with the backup key.
    let laptop = app.new_client();
    app.sign_in(&laptop, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    let answer = sign_in_answer(&app, &laptop, &mut backup).await;
    passkey_step(&app, &laptop, &answer)
        .await
        .expect_status(200);

    // Her organization requires 2FA: one passkey may go, the last may not.
    let org = app.org_id(&client).await;
    let org_s = org.to_string();
    app.call(
        &client,
        "org/two_factor/set",
        &[("org_id", &org_s), ("require", "on"), ("grace_days", "0")],
    )
    .await
    .expect_status(200);
    app.call(
        &client,
        "passkeys/remove",
        &[("id", &first), ("password", "not her password")],
    )
    .await
    .expect_error(422, "invalid_input", Some("password"));
    app.call(
        &client,
        "passkeys/remove",
        &[("id", &first), ("password", PASSWORD)],
    )
    .await
    .expect_status(200);
    app.call(
        &client,
        "passkeys/remove",
        &[("id", &second), ("password", PASSWORD)],
    )
    .await
    .expect_error(409, "conflict", Some("passkey"));
    assert_eq!(passkeys(&app, &client).await.len(), 1);

    // Without the policy the last one goes, with the password and a touch of it (a current
    // factor, as turning 2FA off needs), and with it 2FA, the recovery codes and her other
    // sessions.
    app.call(
        &client,
        "org/two_factor/set",
        &[("org_id", &org_s), ("grace_days", "0")],
    )
    .await
    .expect_status(200);
    app.call(
        &client,
        "passkeys/remove",
        &[("id", &second), ("password", PASSWORD)],
    )
    .await
    .expect_error(422, "invalid_input", Some("passkey"));
    // A touch of a key she no longer has does not count.
    let options: RequestChallengeResponse = options_of(
        app.call(&client, "passkeys/verify_start", &[])
            .await
            .expect_status(200),
    );
    let stale = key.do_authentication(origin(&app), options);
    assert!(stale.is_err(), "the removed key is not offered");
    let options: RequestChallengeResponse = options_of(
        app.call(&client, "passkeys/verify_start", &[])
            .await
            .expect_status(200),
    );
    let touch = serde_json::to_string(
        &backup
            .do_authentication(origin(&app), options)
            .expect("the backup key signs"),
    )
    .expect("json");
    app.call(
        &client,
        "passkeys/remove",
        &[
            ("id", &second),
            ("password", PASSWORD),
            ("assertion", &touch),
        ],
    )
    .await
    .expect_status(200);
    // The touch was good once.
    app.call(
        &client,
        "passkeys/remove",
        &[
            ("id", &second),
            ("password", PASSWORD),
            ("assertion", &touch),
        ],
    )
    .await
    .expect_error(404, "not_found", None);
    assert_eq!(app.session(&client).await["two_factor_enabled"], false);
    assert!(app.session(&laptop).await.is_null(), "other sessions ended");
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM memberships WHERE two_factor_at IS NOT NULL")
            .await,
        0
    );
    for (action, times) in [
        ("user.passkey_renamed", 1),
        ("user.passkey_removed", 2),
        ("user.two_factor_disabled", 1),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND org_id = {org}"
            ))
            .await,
            times,
            "{action}"
        );
    }
    // Signing in asks for the password only now.
    let phone = app.new_client();
    let resp = app
        .sign_in(&phone, "ada@example.com", PASSWORD)
        .await
        .expect_status(200);
    assert!(resp.session_cookie().is_some());
}

async fn an_owner_reset_removes_a_members_passkeys(app: TestApp) {
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let (member, _) = app
        .add_member(&owner, org, "member@example.com", "user")
        .await;
    let mut key = new_key();
    register(&app, &member, &mut key, "Phone")
        .await
        .expect_status(200);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);
    let user_id = app.user_id(&member).await.to_string();
    let org_s = org.to_string();
    app.call(
        &owner,
        "members/reset_two_factor",
        &[("org_id", &org_s), ("user_id", &user_id)],
    )
    .await
    .expect_status(200);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE two_factor_at IS NOT NULL")
            .await,
        0
    );
}

async fn security_keys_only_blocks_an_app_only_member_until_they_add_one(app: TestApp) {
    let (owner, _, _) = ada_with_a_passkey(&app).await;
    let org = app.org_id(&owner).await;
    let org_s = org.to_string();
    let (tom, _) = app.add_member(&owner, org, "tom@example.com", "user").await;
    enable(&app, &tom).await;
    let key = app.create_key(&tom, org, "org:read", "30").await;

    // An Owner with an authenticator app only cannot require security keys.
    let (bob, bobs_org) = app.new_org("bob@example.com", "Bob's").await;
    enable(&app, &bob).await;
    let bobs = bobs_org.to_string();
    let form = |org: &str, methods: &'static str| {
        vec![
            ("org_id", org.to_string()),
            ("require", "on".to_string()),
            ("grace_days", "0".to_string()),
            ("methods", methods.to_string()),
        ]
    };
    let call = |client: &reqwest::Client, form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call(&client, "org/two_factor/set", &form).await
        }
    };
    call(&bob, form(&bobs, "security_keys")).await.expect_error(
        422,
        "invalid_input",
        Some("methods"),
    );
    call(&owner, form(&org_s, "fingerprints"))
        .await
        .expect_error(422, "invalid_input", Some("methods"));

    // Ada has a passkey: she requires them, at once.
    call(&owner, form(&org_s, "security_keys"))
        .await
        .expect_status(200);
    let policy = app
        .call(&owner, "org/two_factor", &[("org_id", &org_s)])
        .await
        .expect_status(200)
        .json();
    assert_eq!(policy["level"], "security_keys", "{policy}");
    assert_eq!(policy["without_count"], 1, "Tom has only an app: {policy}");
    assert_eq!(policy["without"][0]["email"], "tom@example.com", "{policy}");

    // Tom's app is not enough: his pages, server functions and API key are refused, saying
    // what to add.
    let refused = app
        .call(&tom, "members/list", &[("org_id", &org_s)])
        .await
        .expect_error(403, "two_factor_required", None)
        .json();
    assert!(
        refused["security_keys_only"] == true,
        "the error says which factor: {refused}"
    );
    let refused = app
        .api("GET", "/api/v1/org", Some(&key), None)
        .await
        .expect_error(403, "two_factor_required", None)
        .json();
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|m| m.contains("security key or passkey")),
        "{refused}"
    );
    let page = app
        .get(&tom, "/members", &[("accept", "text/html")])
        .await
        .expect_status(403);
    assert!(
        page.body.contains("Security key or passkey required"),
        "{}",
        page.body
    );

    // He adds one: let in at once, by the pages, the functions and his key.
    let mut key_of_tom = new_key();
    let codes = register(&app, &tom, &mut key_of_tom, "Phone")
        .await
        .expect_status(200)
        .json();
    assert_eq!(codes, Value::Null, "he had a second factor already");
    app.call(&tom, "members/list", &[("org_id", &org_s)])
        .await
        .expect_status(200);
    let org_json = app
        .api("GET", "/api/v1/org", Some(&key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        org_json["two_factor_methods"], "security_keys",
        "{org_json}"
    );
    let policy = app
        .call(&owner, "org/two_factor", &[("org_id", &org_s)])
        .await
        .expect_status(200)
        .json();
    assert_eq!(policy["without_count"], 0, "{policy}");

    // His last passkey cannot go while the organization requires them, though his app stays.
    let id = passkeys(&app, &tom).await[0]["id"].to_string();
    app.call(
        &tom,
        "passkeys/remove",
        &[("id", &id), ("password", PASSWORD)],
    )
    .await
    .expect_error(409, "conflict", Some("passkey"));
    let audit: (String,) = sqlx::query_as(
        "SELECT details FROM audit_events WHERE action = 'org.two_factor_required' AND org_id = $1",
    )
    .bind(org)
    .fetch_one(&app.state.db.pool)
    .await
    .expect("audited");
    assert!(audit.0.contains("security_keys"), "{}", audit.0);
}
