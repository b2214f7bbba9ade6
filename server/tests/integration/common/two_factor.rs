//! Two-factor helpers: codes computed the way an authenticator app computes them.

use super::TestApp;
use serde_json::Value;
use std::time::Duration;

pub fn code_at(secret: &[u8], unix: i64) -> String {
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret.to_vec())
        .generate(unix as u64)
}

/// Starts enrollment and reads the secret off the answer, as a person reads it off the page.
pub async fn start(app: &TestApp, client: &reqwest::Client) -> (Vec<u8>, Value) {
    let enrollment = app
        .call(client, "two_factor/start", &[])
        .await
        .expect_status(200)
        .json();
    let shown = enrollment["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret in {enrollment}"))
        .replace(' ', "");
    let secret = totp_rs::Secret::Encoded(shown.clone())
        .to_bytes()
        .unwrap_or_else(|e| panic!("secret {shown} is not base32: {e:?}"));
    assert_eq!(secret.len(), 20, "160-bit secret");
    (secret, enrollment)
}

/// Turns 2FA on for the client's user; returns the secret and the recovery codes. Moves the
/// clock one step on, so the next code is not a replay of the enrollment code.
pub async fn enable(app: &TestApp, client: &reqwest::Client) -> (Vec<u8>, Vec<String>) {
    let (secret, _) = start(app, client).await;
    let code = code_at(&secret, app.now());
    let codes = app
        .call(client, "two_factor/confirm", &[("code", &code)])
        .await
        .expect_status(200)
        .json();
    let codes: Vec<String> = codes["codes"]
        .as_array()
        .unwrap_or_else(|| panic!("no codes in {codes}"))
        .iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    app.clock.advance(Duration::from_secs(30));
    (secret, codes)
}
