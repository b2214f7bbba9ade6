//! Security keys and passkeys in tests: webauthn-rs's own software authenticator
//! (`SoftPasskey`) answering the ceremonies as a browser and a key would.

use super::TestApp;
use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::{softpasskey::SoftPasskey, WebauthnAuthenticator};
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

/// Ceremony options as the server sends them: the WebAuthn JSON, in a JSON string.
pub fn options_of<T: serde::de::DeserializeOwned>(resp: super::Resp) -> T {
    let body = resp.json();
    let text = body
        .as_str()
        .unwrap_or_else(|| panic!("options are a JSON string: {body}"));
    fn has_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Object(map) => map.values().any(has_null),
            Value::Array(items) => items.iter().any(has_null),
            _ => false,
        }
    }
    let value: Value = serde_json::from_str(text).expect("JSON");
    assert!(!has_null(&value), "absent members are left out: {text}");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("options do not parse ({e}): {text}"))
}

/// The origin the browser would report: Gatehouse's address (`localhost`, never the IP).
pub fn origin(app: &TestApp) -> Url {
    Url::parse(&format!("http://localhost:{}", app.addr.port())).expect("origin")
}

/// A security key that verifies its user (PIN or fingerprint), as passkeys require.
pub fn new_key() -> SoftPasskey {
    SoftPasskey::new(true)
}

pub async fn register(
    app: &TestApp,
    client: &reqwest::Client,
    key: &mut SoftPasskey,
    name: &str,
) -> super::Resp {
    let options: CreationChallengeResponse = options_of(
        app.call(client, "passkeys/start", &[("name", name)])
            .await
            .expect_status(200),
    );
    let answer = key
        .do_registration(origin(app), options)
        .unwrap_or_else(|e| panic!("the software key refused to register: {e:?}"));
    let answer = serde_json::to_string(&answer).expect("json");
    app.call(
        client,
        "passkeys/finish",
        &[("name", name), ("credential", &answer)],
    )
    .await
}

/// The browser's signed answer to a fresh sign-in challenge.
pub async fn sign_in_answer(
    app: &TestApp,
    client: &reqwest::Client,
    key: &mut SoftPasskey,
) -> String {
    let options: RequestChallengeResponse = options_of(
        app.call(client, "sign_in/passkey_start", &[])
            .await
            .expect_status(200),
    );
    let answer = key
        .do_authentication(origin(app), options)
        .unwrap_or_else(|e| panic!("the software key refused to sign: {e:?}"));
    serde_json::to_string(&answer).expect("json")
}

/// The key's signed answer to a touch the server asked for at `start` (a server function
/// answering `navigator.credentials.get` options, e.g. `step_up/passkey_start`).
pub async fn touch(
    app: &TestApp,
    client: &reqwest::Client,
    key: &mut SoftPasskey,
    start: &str,
) -> String {
    let options: RequestChallengeResponse =
        options_of(app.call(client, start, &[]).await.expect_status(200));
    let answer = key
        .do_authentication(origin(app), options)
        .unwrap_or_else(|e| panic!("the software key refused to sign: {e:?}"));
    serde_json::to_string(&answer).expect("json")
}

/// Signs `email` in, in a new browser, with the password and then `key` as the second step.
pub async fn sign_in_with_key(
    app: &TestApp,
    email: &str,
    key: &mut SoftPasskey,
) -> reqwest::Client {
    let client = app.new_client();
    app.sign_in(&client, email, super::PASSWORD)
        .await
        .expect_status(200);
    let answer = sign_in_answer(app, &client, key).await;
    app.call(&client, "sign_in/passkey", &[("credential", &answer)])
        .await
        .expect_status(200);
    client
}
