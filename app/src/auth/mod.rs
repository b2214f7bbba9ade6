//! Sign-up, sign-in, sign-out and the signed-in session.

pub mod api;
pub mod confirm_access;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;
