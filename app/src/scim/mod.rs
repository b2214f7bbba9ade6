//! Provisioning with SCIM 2.0 (RFC 7643, RFC 7644): the organization's identity provider
//! adds, suspends and removes its members and manages groups, with a token an Owner makes in
//! Organization settings → Provisioning.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
