//! Personal API keys (SPEC.md "API keys"): created and revoked on the profile page, used by
//! scripts on the REST API.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
