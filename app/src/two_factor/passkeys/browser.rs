//! The browser's half of the ceremonies: `navigator.credentials.create` and `.get` through
//! web-sys, with webauthn-rs-proto's conversions to and from the JSON the server checks.
//! Answers that JSON, or a message for the person.

#[cfg(not(feature = "hydrate"))]
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

#[cfg(feature = "hydrate")]
mod imp {
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use webauthn_rs_proto::{
        CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
        RequestChallengeResponse,
    };

    pub async fn create(options: CreationChallengeResponse) -> Result<String, String> {
        let options: web_sys::CredentialCreationOptions = options.into();
        let promise = leptos::prelude::window()
            .navigator()
            .credentials()
            .create_with_options(&options)
            .map_err(describe)?;
        let answer = JsFuture::from(promise).await.map_err(describe)?;
        let credential: web_sys::PublicKeyCredential = answer
            .dyn_into()
            .map_err(|_| "The browser answered without a credential. Try again.".to_string())?;
        serde_json::to_string(&RegisterPublicKeyCredential::from(credential))
            .map_err(|e| e.to_string())
    }

    pub async fn get(options: RequestChallengeResponse) -> Result<String, String> {
        let options: web_sys::CredentialRequestOptions = options.into();
        let promise = leptos::prelude::window()
            .navigator()
            .credentials()
            .get_with_options(&options)
            .map_err(describe)?;
        let answer = JsFuture::from(promise).await.map_err(describe)?;
        let credential: web_sys::PublicKeyCredential = answer
            .dyn_into()
            .map_err(|_| "The browser answered without a credential. Try again.".to_string())?;
        serde_json::to_string(&PublicKeyCredential::from(credential)).map_err(|e| e.to_string())
    }

    /// The DOMException's name says what happened; its message is the browser's own words.
    fn describe(err: JsValue) -> String {
        let field = |name: &str| {
            js_sys::Reflect::get(&err, &JsValue::from_str(name))
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        match field("name").as_str() {
            "NotAllowedError" => {
                "The browser's prompt was cancelled or timed out. Try again.".to_string()
            }
            "InvalidStateError" => {
                "This security key or passkey is already registered to your account.".to_string()
            }
            "SecurityError" => format!(
                "The browser refused ({}): security keys and passkeys work only at Gatehouse's own address.",
                field("message")
            ),
            "NotSupportedError" => {
                "This browser or device cannot make the kind of security key or passkey Gatehouse asks for.".to_string()
            }
            _ => match field("message") {
                m if m.is_empty() => "The security key or passkey did not answer. Try again.".to_string(),
                m => m,
            },
        }
    }
}

#[cfg(feature = "hydrate")]
pub use imp::{create, get};

/// On the server the ceremonies never run: they are started by a click.
#[cfg(not(feature = "hydrate"))]
pub async fn create(_: CreationChallengeResponse) -> Result<String, String> {
    Err("Security keys and passkeys need the page's script.".to_string())
}

#[cfg(not(feature = "hydrate"))]
pub async fn get(_: RequestChallengeResponse) -> Result<String, String> {
    Err("Security keys and passkeys need the page's script.".to_string())
}
