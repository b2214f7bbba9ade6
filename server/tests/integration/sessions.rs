//! Profile → Sessions: each of your sessions with its browser, address and times; signing out
//! another one or every other one ends exactly those, is audited, and never reaches someone
//! else's session.

use crate::common;

use common::{TestApp, CLIENT_TIMEOUT, PASSWORD};
use serde_json::Value;

on_both_databases!(
    you_see_your_sessions_and_sign_out_the_others,
    nobody_signs_out_a_session_that_is_not_theirs
);

const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A browser of its own, saying it is `user_agent`.
fn browser(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(CLIENT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .expect("http client")
}

async fn sessions(app: &TestApp, client: &reqwest::Client) -> Vec<Value> {
    let list = app
        .call(client, "sessions/list", &[])
        .await
        .expect_status(200)
        .json();
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .clone()
}

fn signed_in(session: &Value) -> bool {
    !session.is_null()
}

async fn you_see_your_sessions_and_sign_out_the_others(app: TestApp) {
    let email = "ada@example.com";
    let laptop = browser(FIREFOX_LINUX);
    app.sign_up(&laptop, "Ada", email, "Org")
        .await
        .expect_status(200);
    let desktop = browser(CHROME_WINDOWS);
    app.sign_in(&desktop, email, PASSWORD)
        .await
        .expect_status(200);
    let script = browser("");
    app.sign_in(&script, email, PASSWORD)
        .await
        .expect_status(200);

    let list = sessions(&app, &laptop).await;
    assert_eq!(list.len(), 3, "{list:?}");
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    assert_eq!(current[0]["device"], "Firefox on Linux", "{list:?}");
    let mut devices: Vec<&str> = list.iter().filter_map(|s| s["device"].as_str()).collect();
    devices.sort_unstable();
    assert_eq!(
        devices,
        [
            "Chrome on Windows 10",
            "Firefox on Linux",
            "Unknown browser"
        ],
        "{list:?}"
    );
    assert!(list.iter().all(|s| s["ip"] == "127.0.0.1"), "{list:?}");

    // The session in use is ended by Sign out, not from the list.
    let own = current[0]["id"].as_str().unwrap_or_default().to_string();
    app.call(&laptop, "sessions/sign_out", &[("id", &own)])
        .await
        .expect_error(422, "invalid_input", Some("id"));
    assert!(signed_in(&app.session(&laptop).await));

    // Sign out the desktop: it is signed out at once, the others are not.
    let desktop_id = list
        .iter()
        .find(|s| s["device"] == "Chrome on Windows 10")
        .and_then(|s| s["id"].as_str())
        .unwrap_or_default()
        .to_string();
    app.call(&laptop, "sessions/sign_out", &[("id", &desktop_id)])
        .await
        .expect_status(200);
    assert!(!signed_in(&app.session(&desktop).await));
    assert!(signed_in(&app.session(&script).await));
    assert_eq!(sessions(&app, &laptop).await.len(), 2);
    // Gone is gone: a second try is 404.
    app.call(&laptop, "sessions/sign_out", &[("id", &desktop_id)])
        .await
        .expect_error(404, "not_found", None);

    // Sign out everywhere else: the one left goes, this one stays.
    let ended = app
        .call(&laptop, "sessions/sign_out_others", &[])
        .await
        .expect_status(200)
        .json();
    assert_eq!(ended, 1);
    assert!(!signed_in(&app.session(&script).await));
    assert!(signed_in(&app.session(&laptop).await));
    let list = sessions(&app, &laptop).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["current"], true, "{list:?}");

    // Audited like a password change: once for the account, and in the organization's log,
    // where its admins see it.
    let org = app.org_id(&laptop).await;
    for (action, details) in [
        ("user.session_ended", "%Chrome on Windows 10%"),
        ("user.other_sessions_ended", "%\"sessions\":1%"),
    ] {
        for place in ["org_id IS NULL".to_string(), format!("org_id = {org}")] {
            let sql = format!(
                "SELECT COUNT(*) FROM audit_events WHERE action = '{action}'
                 AND details LIKE '{details}' AND {place}"
            );
            assert_eq!(app.count(&sql).await, 1, "{sql}");
        }
    }
}

async fn nobody_signs_out_a_session_that_is_not_theirs(app: TestApp) {
    let victim = browser(FIREFOX_LINUX);
    app.sign_up(&victim, "Vic", "vic@example.com", "Org V")
        .await
        .expect_status(200);
    let victim_id = sessions(&app, &victim).await[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (mallory, _) = app.new_org("mallory@example.com", "Org M").await;
    app.call(&mallory, "sessions/sign_out", &[("id", &victim_id)])
        .await
        .expect_error(404, "not_found", None);
    let ended = app
        .call(&mallory, "sessions/sign_out_others", &[])
        .await
        .expect_status(200)
        .json();
    assert_eq!(ended, 0);
    assert!(signed_in(&app.session(&victim).await));
    // Mallory's list is Mallory's alone.
    let list = sessions(&app, &mallory).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_ne!(list[0]["id"], victim_id.as_str(), "{list:?}");
    // Signed out, there is nothing to list.
    app.call(&app.new_client(), "sessions/list", &[])
        .await
        .expect_error(401, "unauthenticated", None);
}
