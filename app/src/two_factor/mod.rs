//! Two-factor authentication: an authenticator app (TOTP), security keys and passkeys, and
//! recovery codes on the profile page, the
//! second step of sign-in, and the organization policy "Require two-factor authentication".

pub mod api;
pub mod fresh;
pub mod model;
pub mod passkeys;
pub mod step_up;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;
