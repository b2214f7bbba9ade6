//! The browser's half of the ceremonies: `navigator.credentials.create` and `.get` through
//! web-sys, with the WebAuthn Level 3 JSON forms (`PublicKeyCredential.parse…OptionsFromJSON`
//! and `credential.toJSON()`), so that the options the server sends and the answers it reads
//! are the JSON webauthn-rs speaks, and no WebAuthn types are compiled into the page's wasm.
//! Answers that JSON, or a message for the person.

#[cfg(feature = "hydrate")]
mod imp {
    use js_sys::{Function, Object, Reflect, JSON};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    const TOO_OLD: &str = "This browser cannot use security keys and passkeys with Gatehouse: update it, or use another browser.";

    /// `options` is the server's `{"publicKey": {...}}`.
    pub async fn create(options: String) -> Result<String, String> {
        let request = request_from_json(&options, "parseCreationOptionsFromJSON")?;
        let promise = leptos::prelude::window()
            .navigator()
            .credentials()
            .create_with_options(request.unchecked_ref())
            .map_err(describe)?;
        answer_to_json(JsFuture::from(promise).await.map_err(describe)?)
    }

    pub async fn get(options: String) -> Result<String, String> {
        let request = request_from_json(&options, "parseRequestOptionsFromJSON")?;
        let promise = leptos::prelude::window()
            .navigator()
            .credentials()
            .get_with_options(request.unchecked_ref())
            .map_err(describe)?;
        answer_to_json(JsFuture::from(promise).await.map_err(describe)?)
    }

    /// `{ publicKey: PublicKeyCredential[parse](json.publicKey) }`.
    fn request_from_json(options: &str, parse: &str) -> Result<Object, String> {
        let unreadable = |_| "The server's options could not be read. Reload the page.".to_string();
        let options = JSON::parse(options).map_err(unreadable)?;
        let public_key = Reflect::get(&options, &"publicKey".into()).map_err(unreadable)?;
        let class = Reflect::get(&leptos::prelude::window(), &"PublicKeyCredential".into())
            .map_err(|_| TOO_OLD.to_string())?;
        let parse: Function = Reflect::get(&class, &parse.into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| TOO_OLD.to_string())?;
        let parsed = parse.call1(&class, &public_key).map_err(describe)?;
        let request = Object::new();
        Reflect::set(&request, &"publicKey".into(), &parsed).map_err(describe)?;
        Ok(request)
    }

    fn answer_to_json(answer: JsValue) -> Result<String, String> {
        let no_answer = || "The browser answered without a credential. Try again.".to_string();
        let to_json: Function = Reflect::get(&answer, &"toJSON".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(no_answer)?;
        let json = to_json.call0(&answer).map_err(describe)?;
        JSON::stringify(&json)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(no_answer)
    }

    /// The DOMException's name says what happened; its message is the browser's own words.
    fn describe(err: JsValue) -> String {
        let field = |name: &str| {
            Reflect::get(&err, &JsValue::from_str(name))
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
pub async fn create(_: String) -> Result<String, String> {
    Err("Security keys and passkeys need the page's script.".to_string())
}

#[cfg(not(feature = "hydrate"))]
pub async fn get(_: String) -> Result<String, String> {
    Err("Security keys and passkeys need the page's script.".to_string())
}
