//! Groups: named sets of an organization's members with a concurrent scans limit and
//! integrations. Owners and Admins create and delete them; Team Leaders edit their own.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod access;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
