//! Organizations: which ones a user belongs to and in which role, the per-organization lock,
//! and Organization settings (name, delete). Members, invitations and billing have their own
//! modules.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;
