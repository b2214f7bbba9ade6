//! The organization overview, the signed-in home page: members and two-factor compliance,
//! scans against each group's limit, failing integrations, recent audit events and API keys
//! about to expire. Each part comes from its capability's queries and is shown to the roles
//! that may see it; this module only puts them together.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;
