//! Members of an organization: the list and its search, role changes, removal, leaving.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod search;
#[cfg(feature = "ssr")]
pub mod server;
