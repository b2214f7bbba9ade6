//! Security keys and passkeys (WebAuthn) as a second factor: registered on the profile page
//! (**Add a security key or passkey**, Rename, Remove) and offered first at the second step of
//! sign-in. webauthn-rs checks the ceremonies on the server; the browser's
//! `navigator.credentials` runs them.

pub mod api;
pub(crate) mod browser;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;
